import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { startTestGateway } from './support/gateway';

// A fresh clone is all a reader has: every relative link in the project's markdown must land on a
// file of the repository (and on a heading that exists, when it names one), and the API reference
// must list exactly the routes of /openapi.json.
const root = resolve(__dirname, '..');

function markdownFiles(): string[] {
  const docs = existsSync(join(root, 'docs'))
    ? readdirSync(join(root, 'docs'))
        .filter((name) => name.endsWith('.md'))
        .map((name) => join('docs', name))
    : [];
  const results = readdirSync(join(root, 'bench', 'results'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => join('bench', 'results', name));
  return ['README.md', 'CHANGELOG.md', ...docs, ...results];
}

/** Markdown without fenced code blocks and inline code spans, where brackets are not links. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** Inline links `[text](target)`, images, and reference definitions `[label]: target`. */
function linkTargets(markdown: string): string[] {
  const text = prose(markdown);
  const inline = [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1] ?? '');
  const references = [...text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map((m) => m[1] ?? '');
  return [...inline, ...references];
}

/**
 * GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes, repeats numbered.
 * Hand-rolled (a few lines) rather than a new dependency for one test.
 */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const withoutCode = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const [, heading] of withoutCode.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const plain = (heading ?? '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/[`*_]/g, '')
      .toLowerCase();
    const base = plain.replace(/[^\p{L}\p{M}\p{N}\- ]/gu, '').replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

const isExternal = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target) && !/^file:/i.test(target);

/** What is wrong with one link of `file`, or undefined when it resolves inside the repository. */
function problemWith(file: string, target: string): string | undefined {
  if (isExternal(target)) return undefined;
  if (/^file:/i.test(target)) return `${file}: ${target} is a local file URL`;
  const [pathPart = '', anchor] = target.split('#', 2);
  const path = decodeURIComponent(pathPart.split('?')[0] ?? '');
  const resolved =
    path === ''
      ? join(root, file)
      : resolve(path.startsWith('/') ? root : dirname(join(root, file)), path.replace(/^\//, ''));
  const inside = relative(root, resolved);
  if (inside.split(sep)[0] === '..' || isAbsolute(inside)) {
    return `${file}: ${target} points outside the repository`;
  }
  if (!existsSync(resolved)) return `${file}: ${target} does not exist`;
  if (anchor && resolved.endsWith('.md') && statSync(resolved).isFile()) {
    if (!anchorsOf(readFileSync(resolved, 'utf8')).has(anchor)) {
      return `${file}: ${target} names a heading that ${inside} does not have`;
    }
  }
  return undefined;
}

describe("the repository's documentation", () => {
  it('has a README, a changelog and the docs pages a newcomer is pointed to', () => {
    for (const page of [
      'README.md',
      'CHANGELOG.md',
      'docs/api.md',
      'docs/provider.md',
      'docs/architecture.md',
      'docs/configuration.md',
      'docs/operations.md',
      'docs/benchmarks.md',
    ]) {
      expect({ page, exists: existsSync(join(root, page)) }).toEqual({ page, exists: true });
    }
  });

  it('links only to files (and headings) inside the repository', () => {
    const files = markdownFiles().filter((file) => existsSync(join(root, file)));
    const links = files.flatMap((file) =>
      linkTargets(readFileSync(join(root, file), 'utf8')).map((target) => ({ file, target })),
    );
    const problems = links
      .map(({ file, target }) => problemWith(file, target))
      .filter((problem): problem is string => problem !== undefined);
    expect(problems).toEqual([]);
    expect(links.length).toBeGreaterThan(20);
  });

  it('finds broken, outside and anchor-less links (the checker is not vacuous)', () => {
    expect(problemWith('README.md', '../shared/design/api.md')).toMatch(/outside the repository/);
    expect(problemWith('docs/api.md', '../../x.md')).toMatch(/outside the repository/);
    expect(problemWith('README.md', 'docs/no-such-page.md')).toMatch(/does not exist/);
    expect(problemWith('README.md', '/work/shared/design/api.md')).toMatch(/does not exist/);
    expect(problemWith('README.md', 'file:///etc/passwd')).toMatch(/local file URL/);
    expect(problemWith('README.md', 'docs/api.md#no-such-heading')).toMatch(/names a heading/);
    expect(problemWith('README.md', 'docs/api.md#identity')).toBeUndefined();
    expect(problemWith('docs/api.md', '../README.md')).toBeUndefined();
    expect(problemWith('README.md', 'https://example.com/x')).toBeUndefined();
    expect(linkTargets('see `[a](../x.md)` and\n```\n[b](../y.md)\n```\n[c](z.md)')).toEqual(['z.md']);
    expect([...anchorsOf('# The `Prefer` header\n## Webhooks & SSE\n## Webhooks & SSE')]).toEqual([
      'the-prefer-header',
      'webhooks--sse',
      'webhooks--sse-1',
    ]);
  });

  it('names no reference material a clone does not have', () => {
    const offending = markdownFiles()
      .filter((file) => existsSync(join(root, file)))
      .filter((file) =>
        /\.\.\/shared|\/work\/shared|shared\/(design|provider)\//.test(
          readFileSync(join(root, file), 'utf8'),
        ),
      );
    expect(offending).toEqual([]);
  });

  it('lists in docs/api.md exactly the routes of /openapi.json', async () => {
    // The document of a running gateway in sandbox mode (the mode that serves every route).
    const gw = await startTestGateway();
    const document = gw.gateway.document;
    await gw.stop();
    const documented = Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
      Object.keys(item ?? {})
        .filter((key) => ['get', 'post', 'put', 'patch', 'delete', 'options'].includes(key))
        .map((method) => `${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`),
    );
    expect(documented.length).toBeGreaterThan(20);
    const api = readFileSync(join(root, 'docs', 'api.md'), 'utf8');
    // Routes are written `METHOD /path` in code spans; a query string is not part of the route.
    const named = new Set(
      [...api.matchAll(/`(GET|POST|PUT|PATCH|DELETE|OPTIONS) (\/[^`?\s]*)[^`]*`/g)]
        .map(([, method, path]) => `${method} ${path}`)
        // The provider's and the simulator's own routes are described there too; they are not ours.
        .filter((route) => !/ \/(api\/v3|_sandbox)\//.test(route)),
    );
    expect(documented.filter((route) => !named.has(route))).toEqual([]);
    expect([...named].filter((route) => !documented.includes(route))).toEqual([]);
  });

  it('gives the project one version: package.json, its lock file and the changelog agree', () => {
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    const changelog = readFileSync(join(root, 'CHANGELOG.md'), 'utf8');
    const released = [...changelog.matchAll(/^## \[?(\d+\.\d+\.\d+)\]?/gm)].map((m) => m[1]);
    expect(released[0]).toBe(version);
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
      version: string;
      packages: Record<string, { version?: string }>;
    };
    expect([lock.version, lock.packages['']?.version]).toEqual([version, version]);
  });

  it('runs the gateway with the same Node.js flags in npm start, the image and the docs', () => {
    const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    const command = /\bnode(?: --\S+)* dist\/main\.js/.exec(scripts.start ?? '')?.[0];
    expect(command).toContain('--max-semi-space-size=4'); // docs/operations.md#memory
    const image = /^CMD (\[.*\])$/m.exec(readFileSync(join(root, 'Dockerfile'), 'utf8'))?.[1];
    expect((JSON.parse(image ?? '[]') as string[]).join(' ')).toBe(command);
    for (const page of ['README.md', 'docs/operations.md', 'docs/architecture.md']) {
      expect(readFileSync(join(root, page), 'utf8').replace(/\s+/g, ' ')).toContain(command);
    }
  });

  it('has source comments that cite the docs pages, which exist', () => {
    const sources: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (path.endsWith('.ts')) sources.push(path);
      }
    };
    walk('src');
    const cited = sources.flatMap((file) => {
      const text = readFileSync(join(root, file), 'utf8');
      return [
        ...[...text.matchAll(/shared\/(?:design|provider)\/[\w.-]+/g)].map((m) => `${file}: ${m[0]}`),
        ...[...text.matchAll(/\bdocs\/[\w-]+\.md/g)]
          .filter((m) => !existsSync(join(root, m[0])))
          .map((m) => `${file}: ${m[0]} does not exist`),
      ];
    });
    expect(cited).toEqual([]);
  });
});
