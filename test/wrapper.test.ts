/**
 * Wrapper: the exit report parser and the shape of the generated script.
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as fc from "effect/FastCheck"
import * as Application from "../src/Application.ts"
import { quote } from "../src/Shell.ts"
import * as GnuTime from "../backends/shellcmd/GnuTime.ts"
import * as Wrapper from "../backends/shellcmd/Wrapper.ts"

const make = (input: Application.ApplicationInput) => Effect.runSync(Application.make(input))

// =============================================================================
// parseStatus
// =============================================================================

Deno.test("parseStatus: a complete report", () => {
  const s = Wrapper.parseStatus(
    "ReturnCode=3\nUptimeStart=1000.25\nUptimeEnd=1002.50\nComplete=1\n",
  )
  deepStrictEqual(s, { returnCode: 3, wallSeconds: 2.25, complete: true })
})

Deno.test("parseStatus: wall seconds need both uptimes, in order", () => {
  strictEqual(Wrapper.parseStatus("UptimeStart=\nUptimeEnd=5").wallSeconds, undefined)
  strictEqual(Wrapper.parseStatus("UptimeStart=5").wallSeconds, undefined)
  strictEqual(Wrapper.parseStatus("UptimeStart=9\nUptimeEnd=5").wallSeconds, undefined)
  strictEqual(Wrapper.parseStatus("UptimeStart=5\nUptimeEnd=5").wallSeconds, 0)
  strictEqual(Wrapper.parseStatus("UptimeStart=0.004\nUptimeEnd=1.001").wallSeconds, 1)
})

Deno.test("parseStatus: a partial or empty report is not complete", () => {
  deepStrictEqual(Wrapper.parseStatus(""), {
    returnCode: undefined,
    wallSeconds: undefined,
    complete: false,
  })
  const partial = Wrapper.parseStatus("ReturnCode=0\nUptimeStart=1\n")
  strictEqual(partial.returnCode, 0)
  strictEqual(partial.complete, false)
  strictEqual(Wrapper.parseStatus("ReturnCode=x\nComplete=1").returnCode, undefined)
  strictEqual(Wrapper.parseStatus("Complete=0").complete, false)
  // surrounding spaces and CRLF line ends are tolerated
  deepStrictEqual(Wrapper.parseStatus(" ReturnCode = 7 \r\nComplete=1\r\n"), {
    returnCode: 7,
    wallSeconds: undefined,
    complete: true,
  })
})

Deno.test("property: parseStatus never throws, and what it returns is well formed", () => {
  const line = fc.oneof(
    fc.string(),
    fc.tuple(
      fc.constantFrom("ReturnCode", "UptimeStart", "UptimeEnd", "Complete"),
      fc.oneof(fc.string(), fc.double().map(String), fc.nat().map(String)),
    ).map(([k, v]) => `${k}=${v}`),
  )
  fc.assert(
    fc.property(
      fc.oneof(fc.fullUnicodeString(), fc.array(line).map((l) => l.join("\n"))),
      (text) => {
        const s = Wrapper.parseStatus(text)
        ok(s.returnCode === undefined || Number.isFinite(s.returnCode))
        // (absurd uptimes such as 1e306 give Infinity: reported, not asserted here)
        ok(s.wallSeconds === undefined || s.wallSeconds >= 0, String(s.wallSeconds))
        strictEqual(typeof s.complete, "boolean")
      },
    ),
    { numRuns: 500 },
  )
})

Deno.test("parseLaunch: one pid per line, stops at the first bad line", () => {
  deepStrictEqual(Wrapper.parseLaunch("123\n456\n"), [123, 456])
  deepStrictEqual(Wrapper.parseLaunch("\n 7 \n\n8"), [7, 8])
  deepStrictEqual(Wrapper.parseLaunch("9\nsh: fork failed\n10\n"), [9])
  deepStrictEqual(Wrapper.parseLaunch("0\n"), [])
  deepStrictEqual(Wrapper.parseLaunch(""), [])
})

// =============================================================================
// render
// =============================================================================

const spec = (app: Application.Application, overrides: Partial<Wrapper.WrapperSpec> = {}) => ({
  jobDir: "/tmp/spool/job dir 'x'",
  app,
  timeCmd: "/usr/bin/time",
  doneMarker: "/tmp/book keeping/j1.done",
  ...overrides,
})

Deno.test("render: the shape of the script", () => {
  const app = make({
    arguments: ["/bin/echo", "a b", "it's", "$HOME"],
    stdin: "/data/in.txt",
    stdout: "logs/out.txt",
    stderr: "err.txt",
    environment: { FOO: "bar baz" },
  })
  const script = Wrapper.render(spec(app))
  const lines = script.split("\n")
  strictEqual(lines[0], "#!/bin/sh")
  ok(script.endsWith("\n"))
  ok(lines.includes(`LRMS_PRIV=${quote("/tmp/spool/job dir 'x'/.lrms")}`))
  ok(lines.includes(`cd ${quote("/tmp/spool/job dir 'x'")} || exit 126`))
  ok(lines.includes(`mkdir -p ${quote("logs")}`), "makes the stdout directory")
  ok(script.includes(`export FOO=${quote("bar baz")}`), "the environment is exported")
  // the format spans lines, inside its quotes
  const run =
    `(export FOO='bar baz'; exec ${quote("/usr/bin/time")} -o ${
      quote(`/tmp/spool/job dir 'x'/.lrms/${Wrapper.Files.usage}`)
    } -f ${quote(GnuTime.FORMAT)} -- '/bin/echo' 'a b' 'it'\\''s' '$HOME' <'in.txt' ` +
    `>'logs/out.txt' 2>'err.txt')\n`
  ok(script.includes(run), script)
  ok(lines.includes(`: >${quote("/tmp/book keeping/j1.done")}`), "marks the job done")
  ok(lines.includes('  echo "Complete=1"'))
  strictEqual(lines.at(-2), 'exit "$lrms_rc"')
  // the report is written in the private directory, complete last
  const status = lines.indexOf(`} >"$LRMS_PRIV/${Wrapper.Files.status}"`)
  ok(status > lines.indexOf('  echo "Complete=1"'))
  ok(status < lines.indexOf(`: >${quote("/tmp/book keeping/j1.done")}`))
})

Deno.test("render: without GNU time, no stdin/stdout, and join", () => {
  const bare = Wrapper.render(spec(make({ arguments: ["true"] }), { timeCmd: undefined }))
  // a program, never a builtin of the wrapper shell: always exec'd in a subshell
  ok(bare.split("\n").includes("(exec 'true' </dev/null >/dev/null 2>/dev/null)"), bare)
  ok(!bare.includes("/usr/bin/time"))
  const joined = Wrapper.render(spec(make({ arguments: ["x"], stdout: "o", join: true })))
  match(joined, /'x' <\/dev\/null >'o' 2>&1\)\n/)
})

const noNul = (s: string) => !s.includes("\0")

Deno.test("property: every argument appears single-quoted, and the script parses (sh -n)", async () => {
  const word = fc.oneof(
    fc.constantFrom("'", '"', "$(rm -rf /)", "`id`", "\n", "*", "~", "-n", "\\", "", " ", "a'b\"c"),
    fc.fullUnicodeString({ maxLength: 12 }),
    fc.string({ unit: "binary", maxLength: 12 }),
  ).filter(noNul)
  const name = fc.stringMatching(/^[a-zA-Z0-9 _.'"$`*~-]{1,8}$/)
    .filter((s) => s !== "." && s !== ".." && !s.startsWith(" "))
  const input = fc.record({
    args: fc.array(word, { maxLength: 5 }),
    cmd: word.filter((s) => s.length > 0),
    env: fc.dictionary(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,4}$/), word, { maxKeys: 3 }),
    stdout: fc.option(name, { nil: undefined }),
    stderr: fc.option(name, { nil: undefined }),
    jobDir: fc.array(name, { minLength: 1, maxLength: 3 }).map((segs) => "/tmp/" + segs.join("/")),
    timeCmd: fc.option(fc.constantFrom("/usr/bin/time", "/opt/gnu time/bin/time"), {
      nil: undefined,
    }),
  })
  await fc.assert(
    fc.asyncProperty(input, async (i) => {
      const app = make({
        arguments: [i.cmd, ...i.args],
        environment: i.env,
        ...(i.stdout !== undefined ? { stdout: i.stdout } : {}),
        ...(i.stderr !== undefined ? { stderr: i.stderr } : {}),
      })
      const script = Wrapper.render({
        jobDir: i.jobDir,
        app,
        timeCmd: i.timeCmd,
        doneMarker: `${i.jobDir}.done`,
      })
      ok(script.includes(app.arguments.map(quote).join(" ")), "the argv, quoted")
      for (const [k, v] of Object.entries(app.environment)) {
        ok(script.includes(`export ${k}=${quote(v)}`), k)
      }
      const out = await new Deno.Command("/bin/sh", {
        args: ["-n", "-c", script],
        stdout: "null",
        stderr: "piped",
      }).output()
      strictEqual(out.code, 0, new TextDecoder().decode(out.stderr))
    }),
    { numRuns: 30 },
  )
})

Deno.test("render: a rendered wrapper runs, and the job gets its arguments unchanged", async () => {
  const dir = await Deno.makeTempDir({ prefix: "effect-lrms-wrapper-test-" })
  try {
    const jobDir = `${dir}/job 'one'`
    await Deno.mkdir(`${jobDir}/${Wrapper.PRIVATE_DIR}/${Wrapper.Files.launch}`, {
      recursive: true,
    })
    const args = ["a b", "it's", "$HOME", "`id`", "*", "line\nbreak", ""]
    const app = make({
      arguments: [
        "/bin/sh",
        "-c",
        'for a in "$@"; do printf "<%s>" "$a"; done; exit 3',
        "sh",
        ...args,
      ],
      stdout: "out/stdout.txt",
      environment: { GREETING: "hello $USER" },
    })
    const script = Wrapper.render({ jobDir, app, timeCmd: undefined, doneMarker: `${dir}/done` })
    const out = await new Deno.Command("/bin/sh", { args: ["-c", script], stdout: "null" }).output()
    strictEqual(out.code, 3, "the wrapper exits with the job's code")
    strictEqual(
      await Deno.readTextFile(`${jobDir}/out/stdout.txt`),
      args.map((a) => `<${a}>`).join(""),
    )
    const status = Wrapper.parseStatus(
      await Deno.readTextFile(`${jobDir}/${Wrapper.PRIVATE_DIR}/${Wrapper.Files.status}`),
    )
    strictEqual(status.returnCode, 3)
    strictEqual(status.complete, true)
    await Deno.stat(`${dir}/done`)
    const priv = `${jobDir}/${Wrapper.PRIVATE_DIR}`
    const pid = (await Deno.readTextFile(`${priv}/${Wrapper.Files.started}`)).trim()
    // the launch token was claimed, with the wrapper's pid in it
    strictEqual((await Deno.readTextFile(`${priv}/${Wrapper.Files.claimed}/pid`)).trim(), pid)
    await Deno.stat(`${priv}/${Wrapper.Files.launch}`).then(
      () => ok(false, "the launch token is gone"),
      () => {},
    )
  } finally {
    await Deno.remove(dir, { recursive: true })
  }
})

Deno.test("render: a wrapper whose launch token is refused, or missing, runs nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "effect-lrms-wrapper-test-" })
  try {
    for (const refused of [true, false]) {
      const jobDir = `${dir}/job-${refused}`
      const priv = `${jobDir}/${Wrapper.PRIVATE_DIR}`
      await Deno.mkdir(priv, { recursive: true })
      // as after a settling submitter renamed `launch` to `refused` (or removed everything)
      if (refused) await Deno.mkdir(`${priv}/${Wrapper.Files.refused}`)
      const app = make({ arguments: ["/bin/sh", "-c", "echo ran >ran.txt"] })
      const script = Wrapper.render({
        jobDir,
        app,
        timeCmd: undefined,
        doneMarker: `${dir}/done-${refused}`,
      })
      const out = await new Deno.Command("/bin/sh", { args: ["-c", script] }).output()
      strictEqual(out.code, 0)
      strictEqual(new TextDecoder().decode(out.stderr), "", "silently")
      deepStrictEqual(
        [...Deno.readDirSync(jobDir)].map((e) => e.name),
        [Wrapper.PRIVATE_DIR],
        "the job did not run",
      )
      deepStrictEqual(
        [...Deno.readDirSync(priv)].map((e) => e.name),
        refused ? [Wrapper.Files.refused] : [],
        "no pid, no start, no report",
      )
      await Deno.stat(`${dir}/done-${refused}`).then(
        () => ok(false, "no done marker"),
        () => {},
      )
    }
  } finally {
    await Deno.remove(dir, { recursive: true })
  }
})

Deno.test("launchArgv: one sh call for every wrapper, paths as arguments", () => {
  const argv = Wrapper.launchArgv(["/a/w 1.sh", "/b/w'2.sh"])
  strictEqual(argv[0], "/bin/sh")
  strictEqual(argv[1], "-c")
  deepStrictEqual(argv.slice(3), ["lrms-launch", "/a/w 1.sh", "/b/w'2.sh"])
})
