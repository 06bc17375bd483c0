/**
 * `lrms resources`: every configured resource with its limits and, when it answers, how busy
 * it is now.
 *
 * @module
 */
import { Command, Options } from "@effect/cli"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Resources from "../../backends/Resources.ts"
import * as Auth from "../../src/Auth.ts"
import * as Quantity from "../../src/Quantity.ts"
import { withEnv } from "../env.ts"

/** `lrms resources [--json]` */
export const resources = Command.make("resources", {
  json: Options.boolean("json"),
}, ({ json }) =>
  withEnv(Effect.gen(function* () {
    const resources = yield* Resources.Resources
    const rows = yield* Effect.forEach(resources.entries, (e) =>
      Effect.either(e.lrms.getResourceStatus.pipe(Effect.provideService(Auth.Auth, e.auth))).pipe(
        Effect.map((s) => ({ e, s })),
      ), { concurrency: "unbounded" })
    const view = rows.map(({ e, s }) => {
      const r = e.lrms.resource
      return {
        name: r.name,
        type: r.type,
        architecture: r.architecture.join(","),
        maxCores: r.maxCores,
        maxCoresPerJob: r.maxCoresPerJob,
        maxMemoryPerCore: Quantity.formatMemoryHuman(r.maxMemoryPerCore),
        maxWalltime: Quantity.formatDuration(r.maxWalltime),
        ...(s._tag === "Right"
          ? {
            freeSlots: s.right.freeSlots,
            userRun: s.right.userRun,
            userQueued: s.right.userQueued,
            queued: s.right.queued,
            totalRun: s.right.totalRun,
          }
          : { error: s.left.message }),
      }
    })
    if (json) {
      return yield* Console.log(JSON.stringify(view, null, 2))
    }
    for (const v of view) {
      yield* Console.log(
        `${v.name} (${v.type}, ${v.architecture}): ${v.maxCores} cores, ${v.maxCoresPerJob}/job, ` +
          `${v.maxMemoryPerCore}/core, ${v.maxWalltime}; ` +
          ("error" in v
            ? `status unavailable: ${v.error}`
            : `free ${v.freeSlots}, running ${v.totalRun} (yours ${v.userRun}), queued ${v.queued} (yours ${v.userQueued})`),
      )
    }
  })))
