/**
 * @internal The shell text that runs an application's payload, shared by the shellcmd wrapper
 * and the batch job script: every word single-quoted with `Shell.quote`.
 */
import type { Application } from "../Application.ts"
import { quote } from "../Shell.ts"

/** @internal `<stdin >stdout 2>stderr` (or `2>&1`), `/dev/null` for what is not given. */
export const redirections = (app: Application): string =>
  [
    `<${app.stdin !== undefined ? quote(app.stdin) : "/dev/null"}`,
    `>${app.stdout !== undefined ? quote(app.stdout) : "/dev/null"}`,
    app.join ? "2>&1" : `2>${app.stderr !== undefined ? quote(app.stderr) : "/dev/null"}`,
  ].join(" ")

/** @internal `mkdir -p` lines for the directories of the stdout and stderr files. */
export const outputDirs = (app: Application): Array<string> =>
  [app.stdout, app.join ? undefined : app.stderr]
    .filter((p): p is string => p !== undefined && p.includes("/"))
    .map((p) => `mkdir -p ${quote(p.slice(0, p.lastIndexOf("/")))}`)

/** @internal `export NAME='value'` lines for the environment. */
export const exports = (app: Application): Array<string> =>
  Object.entries(app.environment).map(([k, v]) => `export ${k}=${quote(v)}`)

/** @internal The payload's argv, quoted. */
export const argv = (app: Application): string => app.arguments.map(quote).join(" ")
