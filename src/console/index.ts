// The operator console: per-minute usage counters kept in the store (bounded: minutes folded into
// hours, hours pruned), the live account view, the console's admin data routes and its pages.
export {
  createConsoleRecorder,
  ACCOUNT,
  LIVE_WINDOW_SEC,
  type ConsoleRecorder,
  type LiveSecond,
  type RecorderOptions,
} from './recorder';
export { consoleRoutes, CONSOLE_ASSETS, CONSOLE_CSP, type ConsoleDeps, type ConsoleRoutes } from './routes';
export { maskNumber, maskJson } from './mask';
