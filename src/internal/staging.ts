/**
 * Staging, shared by the backends that make job directories (shellcmd and the batch flow): a new
 * job directory with its private subdirectory, and the application's inputs copied into it.
 *
 * @internal
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import type { Application } from "../Application.ts"
import type { Auth } from "../Auth.ts"
import { LrmsError } from "../LrmsError.ts"
import * as TransferUrl from "../TransferUrl.ts"
import type { TransportShape } from "../Transport.ts"

/**
 * Copies an application's inputs into the job directory on the transport's host: parent
 * directories are created, a locally executable file stays executable, and an unreadable local
 * file fails with `DataStaging` naming the input.
 */
export const stageInputs = (
  transport: TransportShape,
  fileSystem: FileSystem.FileSystem,
  app: Application,
  jobDir: string,
  backend: string,
): Effect.Effect<void, LrmsError, Auth> =>
  Effect.forEach(app.inputs, (input, i) =>
    Effect.gen(function* () {
      const local = TransferUrl.toPath(input.source)
      const info = yield* fileSystem.stat(local).pipe(
        Effect.mapError((e) =>
          new LrmsError({
            reason: "DataStaging",
            backend,
            operation: "submitJob",
            description: `inputs.${i}.source: cannot read ${local}: ${e.message}`,
            cause: e,
          })
        ),
      )
      const remote = `${jobDir}/${input.remote}`
      if (input.remote.includes("/")) {
        yield* transport.mkdir(remote.slice(0, remote.lastIndexOf("/")), { recursive: true })
      }
      yield* transport.put(local, remote)
      if (info.type === "File" && (info.mode & 0o100) !== 0) {
        yield* transport.chmod(remote, 0o755)
      }
    }), { discard: true })

/**
 * Makes a new job directory with its private subdirectory (one recursive `mkdir`: the spool
 * directory may not exist yet), stages the inputs into it, and makes a staged `./program` in
 * `arguments[0]` executable.
 */
export const makeJobDirectory = (
  transport: TransportShape,
  fileSystem: FileSystem.FileSystem,
  app: Application,
  jobDir: string,
  privateDir: string,
  backend: string,
): Effect.Effect<void, LrmsError, Auth> =>
  Effect.gen(function* () {
    yield* transport.mkdir(`${jobDir}/${privateDir}`, { recursive: true })
    yield* stageInputs(transport, fileSystem, app, jobDir, backend)
    if (app.arguments[0].startsWith("./")) {
      yield* transport.chmod(`${jobDir}/${app.arguments[0].slice(2)}`, 0o755).pipe(Effect.ignore)
    }
  })
