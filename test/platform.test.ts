/**
 * The platform is provided at the edge: the library's layers require `FileSystem` (and the local
 * transport `CommandExecutor` and `Path`) and use the ones the application gives them. Here the
 * application's `FileSystem` is not Node's but one of its own, which records every call and
 * refuses some paths; a whole job runs through it.
 */
import { ok, strictEqual } from "node:assert/strict"
import * as FileSystem from "@effect/platform/FileSystem"
import * as PlatformError from "@effect/platform/Error"
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Shellcmd from "../backends/shellcmd/Shellcmd.ts"
import * as Auth from "../src/Auth.ts"
import * as JobStore from "../src/JobStore.ts"
import * as Job from "../src/Job.ts"
import * as Lrms from "../src/Lrms.ts"
import { app, runFailure, runTest, tempDir } from "./_effect.ts"
import { localConfig } from "./_shellcmd.ts"

/** A file system of the application's own: Node's underneath, every call recorded, and a path
 * prefix it refuses (as a sandbox would). */
const recording = (calls: Array<string>, refused: string) =>
  Layer.effect(
    FileSystem.FileSystem,
    Effect.gen(function* () {
      const node = yield* FileSystem.FileSystem
      const guard = <A>(
        method: string,
        path: string,
        run: () => A,
      ): A | Effect.Effect<never, PlatformError.PlatformError> => {
        calls.push(`${method} ${path}`)
        return path.startsWith(refused)
          ? Effect.fail(
            new PlatformError.SystemError({
              reason: "PermissionDenied",
              module: "FileSystem",
              method,
              pathOrDescriptor: path,
              description: "refused by the application's sandbox",
            }),
          )
          : run()
      }
      return FileSystem.make({
        ...node,
        copyFile: (from, to) =>
          guard("copyFile", to, () => node.copyFile(from, to)) as Effect.Effect<
            void,
            PlatformError.PlatformError
          >,
        makeDirectory: (path, options) =>
          guard("makeDirectory", path, () => node.makeDirectory(path, options)) as Effect.Effect<
            void,
            PlatformError.PlatformError
          >,
        writeFile: (path, data, options) =>
          guard("writeFile", path, () => node.writeFile(path, data, options)) as Effect.Effect<
            void,
            PlatformError.PlatformError
          >,
        open: (path, options) =>
          guard("open", path, () => node.open(path, options)) as ReturnType<typeof node.open>,
        rename: (from, to) =>
          guard("rename", to, () => node.rename(from, to)) as Effect.Effect<
            void,
            PlatformError.PlatformError
          >,
        stat: (path) => guard("stat", path, () => node.stat(path)) as ReturnType<typeof node.stat>,
      })
    }),
  ).pipe(Layer.provide(NodeFileSystem.layer))

/** The platform as this application assembles it: its own FileSystem, Node's processes and paths. */
const platform = (calls: Array<string>, refused: string) =>
  Layer.mergeAll(
    recording(calls, refused),
    NodePath.layer,
    NodeCommandExecutor.layer.pipe(Layer.provide(NodeFileSystem.layer)),
  )

Deno.test("platform: a whole shellcmd job runs on the application's own FileSystem", () =>
  runTest(Effect.gen(function* () {
    const dir = yield* tempDir("lrms-platform-")
    const calls: Array<string> = []
    const local = Shellcmd.layer(localConfig(dir, 2, { name: "own-platform" })).pipe(
      Layer.provide(LocalTransport.layer),
      Layer.provide(platform(calls, `${dir}/refused`)),
    )
    const job = yield* Effect.gen(function* () {
      const submitted = yield* Lrms.submitJob(
        yield* app({ arguments: ["sh", "-c", "echo from-my-platform"], stdout: "out.txt" }),
      )
      const done = yield* Lrms.awaitTermination(submitted, { max: "200 millis" })
      Deno.mkdirSync(`${dir}/results`)
      yield* Lrms.getResults(done, `${dir}/results`)
      // a download into a directory the sandbox refuses fails as a typed error, not a defect
      Deno.mkdirSync(`${dir}/refused`)
      const refusal = yield* Effect.flip(Lrms.getResults(done, `${dir}/refused`))
      strictEqual(refusal._tag, "LrmsError")
      yield* Lrms.free(done)
      return done
    }).pipe(Effect.provide(local), Effect.provide(Auth.none))
    strictEqual(job.termination?.exitCode, 0)
    strictEqual(Deno.readTextFileSync(`${dir}/results/out.txt`), "from-my-platform\n")
    // the job directory, the results and the refusal all went through the application's FileSystem
    ok(
      calls.some((c) => c.startsWith("makeDirectory ") && c.includes(`${dir}/spool`)),
      calls.join("\n"),
    )
    ok(calls.some((c) => c.includes(`${dir}/results/`)), calls.join("\n"))
    ok(calls.some((c) => c.startsWith(`stat ${dir}/refused`)), calls.join("\n"))
  })))

Deno.test("platform: the job store writes through the application's FileSystem", async () => {
  const calls: Array<string> = []
  const dir = Deno.makeTempDirSync({ prefix: "lrms-platform-store-" })
  try {
    const same = await runTest(
      Effect.gen(function* () {
        const store = yield* JobStore.JobStore
        const job = Job.make({
          resourceName: "local",
          backend: "shellcmd",
          application: yield* app({ arguments: ["true"] }),
        })
        yield* store.put(job)
        return (yield* store.get(job.id)).id === job.id
      }).pipe(
        Effect.provide(JobStore.layer(`${dir}/jobs`)),
        Effect.provide(platform(calls, `${dir}/sandboxed`)),
      ),
    )
    ok(same)
    ok(calls.some((c) => c.startsWith("open ") && c.includes(`${dir}/jobs/`)), calls.join("\n"))
    // a store the sandbox refuses is a typed error naming the path
    const failure = await runFailure(
      Effect.provide(JobStore.JobStore, JobStore.layer(`${dir}/sandboxed`)).pipe(
        Effect.provide(platform(calls, `${dir}/sandboxed`)),
      ),
    )
    strictEqual(failure.reason, "PermissionDenied")
    ok(failure.description?.includes("sandboxed"), failure.description)
  } finally {
    Deno.removeSync(dir, { recursive: true })
  }
})
