/**
 * `lrms`: GC3Pie's `gsub` / `gstat` / `gget` / `gkill` for effect-lrms, driven by a `gc3pie.conf`
 * (default `$GC3PIE_CONF`, else `~/.gc3/gc3pie.conf`), with jobs kept in a job store (default
 * `~/.effect-lrms/jobs`) so every command re-attaches to them.
 *
 *   deno task cli [--config FILE] [--store DIR] submit [--resource NAME] [--cores N]
 *       [--memory Q] [--walltime Q] [--input PATH]... [--output NAME]... [--stdout F]
 *       [--stderr F] [--join] [--stdin PATH] [--env K=V]... [--name NAME] [--wait] -- COMMAND ARGS...
 *   deno task cli status [--json] [JOB...]
 *   deno task cli cancel JOB...
 *   deno task cli results JOB [--dir DIR] [--overwrite] [--changed-only]
 *   deno task cli peek JOB FILE [--offset N] [--size N] [--follow]
 *   deno task cli free JOB...
 *   deno task cli resources [--json]
 *
 * The commands are in `cli/commands/`, what they share in `cli/env.ts`, the exit status in
 * `cli/exit.ts`.
 *
 * A JOB is a job id or a unique prefix of one. `deno compile -A --output lrms cli.ts` builds a
 * single binary.
 *
 * Exit status: 0 on success; 1 when a command fails (one `error: ...` line on stderr) and when
 * `submit --wait` sees the job end unsuccessfully (a non-zero exit code or a signal); 2 for a
 * command line `lrms` cannot read; 130 when interrupted. A submission whose outcome is unknown
 * (the resource could not say whether it took the job) exits 1 and keeps the job in the store:
 * `lrms status` asks the resource again and attaches it (or forgets it, if it never got there).
 *
 * @module
 */
import { Command } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import { cancel, free, status } from "./cli/commands/jobs.ts"
import { resources } from "./cli/commands/resources.ts"
import { submit } from "./cli/commands/submit.ts"
import { peek, results } from "./cli/commands/transfer.ts"
import { root } from "./cli/env.ts"
import { report, teardown } from "./cli/exit.ts"

const cli = Command.run(
  root.pipe(Command.withSubcommands([submit, status, cancel, results, peek, free, resources])),
  { name: "lrms", version: "0.1.0" },
)

if (import.meta.main) {
  cli(["deno", "cli.ts", ...Deno.args]).pipe(
    Effect.catchAllCause(report),
    Effect.provide(NodeContext.layer),
    NodeRuntime.runMain({ disableErrorReporting: true, teardown }),
  )
}
