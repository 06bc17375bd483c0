/**
 * LSF against the scripted scheduler of test/fake/lsf: a spool directory holding blanks, `;`,
 * `$(...)`, backquotes and quotes runs the job right and runs nothing else (LSF has a shell run
 * the job's command line: the script's path is given to it relative to `-cwd` and quoted).
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Lsf from "../backends/lsf/Lsf.ts"
import * as Application from "../src/Application.ts"
import * as Auth from "../src/Auth.ts"
import * as Lrms from "../src/Lrms.ts"
import { runTest, tempDir } from "./_effect.ts"
import { lsfConfig } from "./_fake.ts"

Deno.test({
  name: "lsf(scripted): a spool directory with blanks, ; $(...) `...` and quotes injects nothing",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    runTest(Effect.gen(function* () {
      const dir = yield* tempDir("lrms-fake-")
      const spool = `${dir}/sp ace;$(touch MARK1)\`touch MARK2\`'q"x|touch MARK3&&touch MARK4`
      const layer = Lsf.layer(lsfConfig(spool)).pipe(
        Layer.provide(LocalTransport.layer),
        Layer.merge(Auth.none),
      )
      yield* Effect.gen(function* () {
        const app = yield* Effect.orDie(Application.make({
          arguments: ["sh", "-c", 'echo "ran in $PWD"'],
          stdout: "out.txt",
        }))
        const job = yield* Lrms.submitJob(app)
        const done = yield* Lrms.awaitTermination(job, { max: "300 millis" })
        strictEqual(done.termination?.exitCode, 0)
        const text = yield* Effect.promise(() => Deno.readTextFile(`${done.remoteDir}/out.txt`))
        strictEqual(text, `ran in ${done.remoteDir}\n`)
        yield* Lrms.free(done)
      }).pipe(Effect.provide(layer))
      const marks: Array<string> = []
      const walk = (d: string) => {
        for (const e of Deno.readDirSync(d)) {
          if (e.name.startsWith("MARK")) marks.push(`${d}/${e.name}`)
          if (e.isDirectory) walk(`${d}/${e.name}`)
        }
      }
      walk(dir)
      walk(Deno.cwd())
      deepStrictEqual(marks, [])
    })),
})
