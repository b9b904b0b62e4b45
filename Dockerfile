# Multi-stage: build with the compiler toolchain (better-sqlite3 compiles from source if no
# prebuilt binary can be fetched), run as the unprivileged `node` user with only runtime files.
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# The `prepare` script (run by npm ci) finds no sources yet in this dependency layer and builds
# nothing; the build is the explicit step below, once the sources are in.
COPY scripts ./scripts
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY console ./console
RUN npm run build:gateway && npm run build:console && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
COPY examples ./examples
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# node runs directly as PID 1, so SIGTERM reaches it and nothing compiles at start.
# (`npm start` would also work: its script execs node, so npm forwards the signal to the gateway.)
CMD ["node", "--max-semi-space-size=4", "dist/main.js"]
