/**
 * Application: the job description and every rule GC3Pie's Application applies (spec §0).
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict"
import * as Arbitrary from "effect/Arbitrary"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as Application from "../src/Application.ts"
import { isLrmsError, type LrmsError } from "../src/LrmsError.ts"
import { runFailure } from "./_effect.ts"

const make = (input: Application.ApplicationInput): Application.Application =>
  Effect.runSync(Application.make(input))

/** Runs `make`, which must fail with InvalidArgument; returns the description. */
const invalid = async (input: Application.ApplicationInput): Promise<string> => {
  const e: LrmsError = await runFailure(Application.make(input))
  ok(isLrmsError(e), "an LrmsError")
  strictEqual(e.reason, "InvalidArgument")
  strictEqual(e.recoverable, false)
  strictEqual(typeof e.description, "string")
  return e.description!
}

// =============================================================================
// defaults and inputs
// =============================================================================

Deno.test("make: defaults", () => {
  const app = make({ arguments: ["/bin/true"] })
  deepStrictEqual(app.arguments, ["/bin/true"])
  deepStrictEqual(app.inputs, [])
  deepStrictEqual(app.outputs, [])
  strictEqual(app.join, false)
  deepStrictEqual(app.environment, {})
  strictEqual(app.requestedCores, 1)
  strictEqual(app.requestedMemory, undefined)
  strictEqual(app.requestedWalltime, undefined)
  strictEqual(app.applicationName, "generic")
  ok(app instanceof Application.Application)
})

Deno.test("make: quantities are decoded", () => {
  const app = make({
    arguments: ["x"],
    requestedCores: 4,
    requestedMemory: "4 GB",
    requestedWalltime: "90 min",
    requestedArchitecture: "amd64",
  })
  strictEqual(app.requestedCores, 4)
  strictEqual(app.requestedMemory, 4e9)
  ok(
    app.requestedWalltime !== undefined &&
      Duration.equals(app.requestedWalltime, Duration.minutes(90)),
  )
  strictEqual(app.requestedArchitecture, "x86_64")
  strictEqual(make({ arguments: ["x"], requestedMemory: 1024 }).requestedMemory, 1024)
  const w = make({ arguments: ["x"], requestedWalltime: Duration.hours(2) }).requestedWalltime
  ok(w !== undefined && Duration.equals(w, Duration.hours(2)))
})

Deno.test("make: inputs as a record, a list of sources, pairs or objects", () => {
  const fromRecord = make({
    arguments: ["x"],
    inputs: { "/data/a.txt": "a.txt", "/data/b": "dir/b" },
  })
  deepStrictEqual(fromRecord.inputs, [
    { source: "file:///data/a.txt", remote: "a.txt" },
    { source: "file:///data/b", remote: "dir/b" },
  ])
  const fromList = make({
    arguments: ["x"],
    inputs: [
      "/data/a.txt",
      "http://example.org/dir/b.csv",
      ["/data/c", "./sub//c2"],
      { source: "/data/d", remote: "d2" },
    ],
  })
  deepStrictEqual(fromList.inputs, [
    { source: "file:///data/a.txt", remote: "a.txt" },
    { source: "http://example.org/dir/b.csv", remote: "b.csv" },
    // remote names are normalised
    { source: "file:///data/c", remote: "sub/c2" },
    { source: "file:///data/d", remote: "d2" },
  ])
  // a relative source is made absolute (GC3Pie's UrlKeyDict with force_abs)
  const rel = make({ arguments: ["x"], inputs: ["in.txt"] })
  strictEqual(rel.inputs[0]!.remote, "in.txt")
  ok(rel.inputs[0]!.source.startsWith("file:///"), rel.inputs[0]!.source)
  ok(rel.inputs[0]!.source.endsWith("/in.txt"), rel.inputs[0]!.source)
})

Deno.test("make: outputs as a record, names, pairs or objects; * means everything", () => {
  const app = make({
    arguments: ["x"],
    outputs: ["result.txt", ["out/log", "logs/log.txt"], { remote: "z", destination: "s3://b/z" }],
  })
  deepStrictEqual(app.outputs, [
    { remote: "result.txt", destination: "result.txt" },
    { remote: "out/log", destination: "logs/log.txt" },
    { remote: "z", destination: "s3://b/z" },
  ])
  deepStrictEqual(make({ arguments: ["x"], outputs: { "a": "b" } }).outputs, [
    { remote: "a", destination: "b" },
  ])
  deepStrictEqual(make({ arguments: ["x"], outputs: ["*"] }).outputs, [
    { remote: Application.ANY_OUTPUT, destination: "" },
  ])
})

// =============================================================================
// stdin, stdout, stderr, join
// =============================================================================

Deno.test("stdin is staged under its basename and added to the inputs", () => {
  const app = make({ arguments: ["wc"], stdin: "/data/in put.txt" })
  strictEqual(app.stdin, "in put.txt")
  deepStrictEqual(app.inputs, [{ source: "file:///data/in%20put.txt", remote: "in put.txt" }])
  // a file URL works too
  strictEqual(make({ arguments: ["wc"], stdin: "file:///data/x.csv" }).stdin, "x.csv")
})

Deno.test("stdin already among the inputs is not staged twice", () => {
  const app = make({ arguments: ["wc"], inputs: ["/data/in.txt"], stdin: "/data/in.txt" })
  deepStrictEqual(app.inputs, [{ source: "file:///data/in.txt", remote: "in.txt" }])
  strictEqual(app.stdin, "in.txt")
  // the same file spelled differently
  const again = make({
    arguments: ["wc"],
    inputs: ["file:///data/in.txt"],
    stdin: "/data/./in.txt",
  })
  strictEqual(again.inputs.length, 1)
})

Deno.test("stdin with the name of another input file is a duplicate remote name", async () => {
  const d = await invalid({ arguments: ["wc"], inputs: [["/other/in", "in"]], stdin: "/data/in" })
  match(d, /inputs\.1\.remote/)
  match(d, /"in" is used twice/)
  match(await invalid({ arguments: ["wc"], stdin: "/" }), /^stdin: names no file/)
})

Deno.test("stdout and stderr are added to the outputs", () => {
  const app = make({ arguments: ["x"], stdout: "out.txt", stderr: "logs/err.txt" })
  strictEqual(app.stdout, "out.txt")
  strictEqual(app.stderr, "logs/err.txt")
  strictEqual(app.join, false)
  deepStrictEqual(app.outputs, [
    { remote: "out.txt", destination: "out.txt" },
    { remote: "logs/err.txt", destination: "logs/err.txt" },
  ])
  // an output already naming the file is not duplicated
  const given = make({ arguments: ["x"], stdout: "out.txt", outputs: [["./out.txt", "o.txt"]] })
  deepStrictEqual(given.outputs, [{ remote: "out.txt", destination: "o.txt" }])
})

Deno.test("stdout and stderr are not added when * is an output", () => {
  const app = make({ arguments: ["x"], stdout: "o", stderr: "e", outputs: ["*"] })
  deepStrictEqual(app.outputs, [{ remote: "*", destination: "" }])
  strictEqual(app.stdout, "o")
  strictEqual(app.stderr, "e")
})

Deno.test("join is forced when stderr equals stdout, and stderr follows stdout on join", () => {
  const same = make({ arguments: ["x"], stdout: "o.txt", stderr: "o.txt" })
  strictEqual(same.join, true)
  strictEqual(same.stderr, "o.txt")
  deepStrictEqual(same.outputs, [{ remote: "o.txt", destination: "o.txt" }])
  // the same file, spelled differently, is the same file
  const spelled = make({ arguments: ["x"], stdout: "a/out", stderr: "./a//out" })
  strictEqual(spelled.join, true)
  strictEqual(spelled.stderr, "a/out")
  const joined = make({ arguments: ["x"], stdout: "o.txt", stderr: "e.txt", join: true })
  strictEqual(joined.join, true)
  strictEqual(joined.stderr, "o.txt")
  deepStrictEqual(joined.outputs, [{ remote: "o.txt", destination: "o.txt" }])
})

Deno.test("join without stdout is refused", async () => {
  match(await invalid({ arguments: ["x"], join: true }), /^join: /)
})

Deno.test("unknown fields are refused, naming the field (a typo is not a 1-core job)", async () => {
  const typo = { arguments: ["x"], requestedCore: 4 } as unknown as Application.ApplicationInput
  match(await invalid(typo), /^requestedCore: unknown field "requestedCore"/)
  const two = {
    arguments: ["x"],
    stdot: "o",
    walltime: "1h",
  } as unknown as Application.ApplicationInput
  match(await invalid(two), /^stdot: unknown fields "stdot", "walltime"/)
  // a field set to undefined is still a field the caller meant
  const undef = {
    arguments: ["x"],
    requestedCore: undefined,
  } as unknown as Application.ApplicationInput
  match(await invalid(undef), /requestedCore/)
  // extra keys inside an input or output object are refused too
  const inner = {
    arguments: ["x"],
    inputs: [{ source: "/a", remote: "a", mode: "0755" }],
  } as unknown as Application.ApplicationInput
  match(await invalid(inner), /mode/)
  // every known field is accepted
  strictEqual(make({ arguments: ["x"], requestedCores: 4 }).requestedCores, 4)
})

Deno.test("absolute or escaping stdout is refused, naming stdout", async () => {
  match(await invalid({ arguments: ["x"], stdout: "/abs/out" }), /stdout: "\/abs\/out" is absolute/)
  match(
    await invalid({ arguments: ["x"], stderr: "../err" }),
    /stderr: "\.\.\/err" leaves its directory/,
  )
})

// =============================================================================
// remote names and destinations
// =============================================================================

Deno.test("remote names must be unique: the duplicate is named inputs.N.remote", async () => {
  const d = await invalid({
    arguments: ["x"],
    inputs: [["/a/x", "x"], ["/b/y", "y"], ["/b/x", "./x"]],
  })
  match(d, /^inputs\.2\.remote: remote name "\.\/x" is used twice/)
  match(await invalid({ arguments: ["x"], inputs: ["/a/x", "/b/x"] }), /inputs\.1\.remote/)
})

Deno.test("output destinations must be unique", async () => {
  const d = await invalid({ arguments: ["x"], outputs: [["a", "d"], ["b", "./d"]] })
  match(d, /^outputs\.1\.destination: destination "\.\/d" is used twice/)
})

Deno.test("remote names must be relative and stay inside the job directory", async () => {
  match(
    await invalid({ arguments: ["x"], inputs: [["/a/x", "../x"]] }),
    /inputs\.0\.remote: "\.\.\/x" leaves its directory/,
  )
  match(
    await invalid({ arguments: ["x"], inputs: [["/a/x", "/abs"]] }),
    /inputs\.0\.remote: "\/abs" is absolute/,
  )
  match(
    await invalid({ arguments: ["x"], inputs: [["/a/x", "."]] }),
    /inputs\.0\.remote: "\." names no file/,
  )
  match(
    await invalid({ arguments: ["x"], inputs: [["/a/x", ""]] }),
    /inputs\.0\.remote: the path is empty/,
  )
  match(
    await invalid({ arguments: ["x"], outputs: ["../x"] }),
    /outputs\.0\.remote: "\.\.\/x" leaves/,
  )
  match(
    await invalid({ arguments: ["x"], outputs: ["/x"] }),
    /outputs\.0\.remote: "\/x" is absolute/,
  )
  match(
    await invalid({ arguments: ["x"], outputs: [["a", "b/../../x"]] }),
    /outputs\.0\.destination: .* leaves/,
  )
  match(
    await invalid({ arguments: ["x"], outputs: [["a", "/etc/passwd"]] }),
    /outputs\.0\.destination: .* is absolute/,
  )
})

Deno.test("relativePathProblem and normalizeRelative", () => {
  strictEqual(Application.relativePathProblem("a/b"), undefined)
  strictEqual(Application.relativePathProblem("a/..b/c"), undefined)
  match(Application.relativePathProblem("a/../b")!, /leaves its directory/)
  match(Application.relativePathProblem("/a")!, /absolute/)
  match(Application.relativePathProblem("./")!, /names no file/)
  match(Application.relativePathProblem("a\0")!, /NUL/)
  strictEqual(Application.normalizeRelative("./a//b/./c/"), "a/b/c")
})

Deno.test("property: every decoded remote name is relative, normalised and inside the job dir", () => {
  const segment = fc.oneof(
    fc.constantFrom(".", "..", "", "a", "b c", "*", "~"),
    fc.stringMatching(/^[a-z.]{1,4}$/),
  )
  fc.assert(
    fc.property(fc.array(segment, { minLength: 1, maxLength: 5 }), fc.boolean(), (segs, abs) => {
      const remote = (abs ? "/" : "") + segs.join("/")
      const absolute = remote.startsWith("/")
      const exit = Effect.runSyncExit(
        Application.make({ arguments: ["x"], inputs: [["/src", remote]] }),
      )
      if (Exit.isSuccess(exit)) {
        const name = exit.value.inputs[0]!.remote
        strictEqual(Application.relativePathProblem(name), undefined, name)
        strictEqual(Application.normalizeRelative(name), name)
        ok(!absolute && !segs.includes(".."), remote)
      } else {
        ok(absolute || segs.includes("..") || segs.every((s) => s === "" || s === "."), remote)
      }
    }),
  )
})

// =============================================================================
// numbers, environment, arguments
// =============================================================================

Deno.test("cores: zero, negative or fractional are refused, naming requestedCores", async () => {
  match(
    await invalid({ arguments: ["x"], requestedCores: 0 }),
    /^requestedCores: expected a whole number above 0, got 0/,
  )
  match(await invalid({ arguments: ["x"], requestedCores: -2 }), /^requestedCores: .*-2/)
  match(await invalid({ arguments: ["x"], requestedCores: 1.5 }), /^requestedCores: /)
})

Deno.test("memory and walltime: bad values are refused, naming the field", async () => {
  const m = await invalid({ arguments: ["x"], requestedMemory: "4 XB" })
  match(m, /^requestedMemory: unknown memory unit "XB"/)
  match(await invalid({ arguments: ["x"], requestedMemory: -1 }), /^requestedMemory: /)
  match(
    await invalid({ arguments: ["x"], requestedWalltime: "01:30" }),
    /^requestedWalltime: .*ambiguous/,
  )
  match(
    await invalid({ arguments: ["x"], requestedWalltime: "8" }),
    /^requestedWalltime: .*no unit/,
  )
  match(
    await invalid({ arguments: ["x"], requestedArchitecture: "sparc" }),
    /^requestedArchitecture: unknown architecture "sparc"/,
  )
})

Deno.test("environment: variable names are validated, values are kept as they are", async () => {
  const app = make({ arguments: ["x"], environment: { HOME_2: "$HOME 'q'", _x: "" } })
  deepStrictEqual(app.environment, { HOME_2: "$HOME 'q'", _x: "" })
  for (const bad of ["1BAD", "A-B", "A B", "", "Ä"]) {
    match(await invalid({ arguments: ["x"], environment: { [bad]: "v" } }), /^environment/, bad)
  }
  match(
    await invalid({ arguments: ["x"], environment: { A: "a\0b" } }),
    /^environment\.A: a NUL byte/,
  )
})

Deno.test("arguments: a command is required; NUL is refused", async () => {
  match(await invalid({ arguments: [] }), /^arguments: must name a command/)
  match(await invalid({ arguments: [""] }), /^arguments: the command \(arguments\[0\]\) is empty/)
  match(await invalid({ arguments: ["echo", "a\0b"] }), /^arguments\.1: a NUL byte/)
  // anything else is kept exactly
  const nasty = [
    "/bin/echo",
    "",
    " ",
    "'",
    '"',
    "$(rm -rf /)",
    "`id`",
    "*",
    "~",
    "-n",
    "a\nb",
    "日本",
  ]
  deepStrictEqual(make({ arguments: nasty }).arguments, nasty)
})

// =============================================================================
// jobname
// =============================================================================

Deno.test("jobname: made safe for every scheduler", () => {
  const name = (jobname: string) => make({ arguments: ["x"], jobname }).jobname
  strictEqual(name("Demo"), "Demo")
  // GC3Pie prefixes `GC3Pie.`; we prefix `lrms.`
  strictEqual(name("123Demo"), "lrms.123Demo")
  strictEqual(name("_x"), "lrms._x")
  strictEqual(name("a b/c;d$e"), "a_b_c_d_e")
  // non-ASCII is dropped (accented letters keep their base letter)
  strictEqual(name("Démo"), "Demo")
  strictEqual(name("job日本x"), "jobx")
  strictEqual(name("  padded  "), "padded")
  strictEqual(Application.sanitizeJobname("日本"), undefined)
  strictEqual(Application.sanitizeJobname(""), undefined)
})

Deno.test("jobname: an empty name is generated as lrms.<app>.<hex>", () => {
  for (const jobname of [undefined, "", "日本", "   "]) {
    const app = make({ arguments: ["x"], ...(jobname === undefined ? {} : { jobname }) })
    match(app.jobname, /^lrms\.generic\.[0-9a-f]{8}$/, String(jobname))
  }
  match(
    make({ arguments: ["x"], applicationName: "my-app" }).jobname,
    /^lrms\.my-app\.[0-9a-f]{8}$/,
  )
  const a = make({ arguments: ["x"] }).jobname
  const b = make({ arguments: ["x"] }).jobname
  ok(a !== b, "generated names differ")
})

Deno.test("property: sanitizeJobname gives a name every scheduler takes, or undefined", () => {
  fc.assert(
    fc.property(fc.fullUnicodeString(), (s) => {
      const n = Application.sanitizeJobname(s)
      if (n === undefined) return
      match(n, /^[A-Za-z][A-Za-z0-9._-]*$/)
      strictEqual(Application.sanitizeJobname(n), n, "idempotent")
    }),
    { numRuns: 500 },
  )
})

// =============================================================================
// dataUrls
// =============================================================================

Deno.test("dataUrls: every input source and output destination, named by field", () => {
  const app = make({
    arguments: ["x"],
    inputs: ["/data/a", "http://example.org/b"],
    outputs: [["o", "s3://bucket/o"], ["p", "rel/p"], "*"],
  })
  deepStrictEqual(Application.dataUrls(app), [
    { field: "inputs.0.source", url: "file:///data/a" },
    { field: "inputs.1.source", url: "http://example.org/b" },
    { field: "outputs.0.destination", url: "s3://bucket/o" },
    // a relative destination is a local file
    { field: "outputs.1.destination", url: "file:///" },
    { field: "outputs.2.destination", url: "file:///" },
  ])
})

// =============================================================================
// schema round trips
// =============================================================================

const segment = fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9 ._'$-]{0,6}$/)
const relPath = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => s.join("/"))

/** Loose inputs that `make` accepts (remote names and destinations made unique). */
const applicationInput: fc.Arbitrary<Application.ApplicationInput> = fc.record(
  {
    arguments: fc.array(fc.string().filter((s) => !s.includes("\0")), { maxLength: 4 }).chain((
      rest,
    ) => fc.stringMatching(/^[a-z/._-]{1,8}$/).map((cmd) => [cmd, ...rest])),
    inputs: fc.uniqueArray(
      fc.tuple(fc.constantFrom("/data/", "http://example.org/", "rel/"), relPath),
      {
        selector: ([, p]) => Application.normalizeRelative(p),
        maxLength: 3,
      },
    ).map((xs) => xs.map(([base, p]) => [base + p, p] as const)),
    outputs: fc.uniqueArray(relPath, { maxLength: 3 }),
    stdout: fc.constantFrom("stdout.txt", "logs/out"),
    stderr: fc.constantFrom("stderr.txt", "stdout.txt", "logs/out"),
    join: fc.boolean(),
    environment: fc.dictionary(
      fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,5}$/),
      fc.string().filter((s) => !s.includes("\0")),
      {
        maxKeys: 3,
      },
    ),
    requestedCores: fc.integer({ min: 1, max: 256 }),
    requestedMemory: fc.oneof(
      fc.nat({ max: 2 ** 40 }),
      fc.tuple(
        fc.nat({ max: 4096 }),
        fc.constantFrom("B", "kB", "MB", "GB", "KiB", "MiB", "GiB", "G", "M"),
      ).map(([n, u]) => `${n} ${u}`),
    ),
    requestedWalltime: fc.oneof(
      fc.constantFrom("90 min", "1h30m", "01:30:00", "2-00:00:00", "1.5 hours"),
      fc.nat({ max: 86400 * 1000 }).map((ms) => Duration.millis(ms)),
    ),
    requestedArchitecture: fc.constantFrom("x86_64", "amd64", "arm64", "i386"),
    jobname: fc.string(),
    outputDir: fc.constantFrom("/tmp/out", "results"),
    applicationName: fc.stringMatching(/^[A-Za-z0-9_-]{1,8}$/),
  },
  { requiredKeys: ["arguments"] },
).filter((input) => {
  // join needs stdout
  if (input.join === true && input.stdout === undefined) return false
  // destinations of the generated outputs must not collide with stdout / stderr
  const outs = (input.outputs as ReadonlyArray<string> | undefined) ?? []
  return ![input.stdout, input.stderr].some((s) => s !== undefined && outs.includes(s))
})

Deno.test("property: make accepts every valid loose input, and its rules hold", () => {
  fc.assert(
    fc.property(applicationInput, (input) => {
      const exit = Effect.runSyncExit(Application.make(input))
      if (Exit.isFailure(exit)) throw new Error(`refused ${JSON.stringify(input)}`)
      const app = exit.value
      deepStrictEqual(app.arguments, input.arguments)
      const remotes = app.inputs.map((i) => i.remote)
      strictEqual(new Set(remotes).size, remotes.length, "remote names are unique")
      if (app.join || (app.stderr !== undefined && app.stderr === app.stdout)) {
        strictEqual(app.stderr, app.stdout)
        ok(app.join)
      }
      for (const name of [app.stdout, app.stderr]) {
        if (name !== undefined) ok(app.outputs.some((o) => o.remote === name), `${name} in outputs`)
      }
      match(app.jobname, /^[A-Za-z][A-Za-z0-9._-]*$/)
    }),
    { numRuns: 100 },
  )
})

Deno.test("property: Application made from loose input round-trips through its encoded JSON", () => {
  const encode = Schema.encodeSync(Application.Application)
  const decode = Schema.decodeUnknownSync(Application.Application)
  const eq = Schema.equivalence(Application.Application)
  fc.assert(
    fc.property(applicationInput, (input) => {
      const app = make(input)
      const json = JSON.stringify(encode(app))
      const back = decode(JSON.parse(json))
      ok(back instanceof Application.Application)
      ok(eq(back, app), json)
      strictEqual(JSON.stringify(encode(back)), json)
    }),
    { numRuns: 100 },
  )
})

Deno.test("property: Arbitrary.make(Application) values round-trip too", () => {
  const encode = Schema.encodeSync(Application.Application)
  const decode = Schema.decodeUnknownSync(Application.Application)
  const eq = Schema.equivalence(Application.Application)
  fc.assert(
    fc.property(Arbitrary.make(Application.Application), (app) => {
      ok(eq(decode(encode(app)), app))
    }),
    { numRuns: 50 },
  )
})

// =============================================================================
// parallel shape (issue 14)
// =============================================================================

Deno.test("shape: processes = nodes × processesPerNode, and the rest inferred", () => {
  const app = make({ arguments: ["x"], nodes: 2, processesPerNode: 4, coresPerProcess: 2 })
  deepStrictEqual(Application.shape(app), {
    nodes: 2,
    processes: 8,
    processesPerNode: 4,
    coresPerProcess: 2,
    gpusPerProcess: 0,
    exclusive: false,
    launcher: undefined,
  })
  strictEqual(app.requestedCores, 16)
  strictEqual(app.processes, 8, "the inferred count is stored")
  const split = Application.shape(make({ arguments: ["x"], processes: 6, nodes: 3 }))
  deepStrictEqual([split.nodes, split.processesPerNode], [3, 2])
  const byNode = Application.shape(make({ arguments: ["x"], processes: 6, processesPerNode: 3 }))
  deepStrictEqual([byNode.nodes, byNode.processes], [2, 6])
  const nodesOnly = Application.shape(make({ arguments: ["x"], nodes: 3 }))
  deepStrictEqual([nodesOnly.processes, nodesOnly.processesPerNode], [3, 1])
  const free = Application.shape(make({ arguments: ["x"], processes: 5 }))
  deepStrictEqual([free.nodes, free.processesPerNode, free.coresPerProcess], [
    undefined,
    undefined,
    1,
  ])
})

Deno.test("shape: requestedCores is the total, and gives cores per process", () => {
  const gc3pie = make({ arguments: ["x"], requestedCores: 4 })
  deepStrictEqual(
    [Application.shape(gc3pie).processes, Application.shape(gc3pie).coresPerProcess],
    [1, 4],
  )
  // a GC3Pie-style application keeps its old JSON form: no parallel field is stored
  for (const k of ["nodes", "processes", "processesPerNode", "coresPerProcess", "launcher"]) {
    ok(!(k in Schema.encodeSync(Application.Application)(gc3pie)), k)
  }
  const hybrid = make({ arguments: ["x"], requestedCores: 8, processes: 4 })
  strictEqual(Application.shape(hybrid).coresPerProcess, 2)
  const both = make({ arguments: ["x"], requestedCores: 6, processes: 3, coresPerProcess: 2 })
  strictEqual(both.requestedCores, 6)
})

Deno.test("shape: processes 3 on nodes 2 fails at make, naming both fields", async () => {
  const message = await invalid({ arguments: ["x"], processes: 3, nodes: 2 })
  match(message, /^processes, nodes: /)
  match(message, /3 processes do not split evenly over 2 nodes/)
})

Deno.test("shape: every impossible combination is refused, naming its fields", async () => {
  const cases: ReadonlyArray<readonly [Application.ApplicationInput, RegExp]> = [
    [{ arguments: ["x"], nodes: 3, processes: 4 }, /^processes, nodes: /],
    [{ arguments: ["x"], nodes: 4, processes: 2 }, /^processes, nodes: 2 process\(es\) cannot/],
    [{ arguments: ["x"], processes: 4, processesPerNode: 3 }, /^processes, processesPerNode: /],
    [
      { arguments: ["x"], nodes: 2, processesPerNode: 2, processes: 5 },
      /^processes, nodes, processesPerNode: 5 processes requested, but 2 node\(s\) × 2/,
    ],
    [
      { arguments: ["x"], requestedCores: 5, coresPerProcess: 2 },
      /^requestedCores, processes, coresPerProcess: 5 cores requested/,
    ],
    [{ arguments: ["x"], requestedCores: 6, processes: 4 }, /^requestedCores, processes: /],
    [{ arguments: ["x"], nodes: 0 }, /^nodes: expected a whole number above 0, got 0/],
    [{ arguments: ["x"], processes: 1.5 }, /^processes: expected a whole number/],
    [{ arguments: ["x"], coresPerProcess: -1 }, /^coresPerProcess: /],
    [{ arguments: ["x"], gpusPerProcess: -1 }, /^gpusPerProcess: /],
    [{ arguments: ["x"], gpusPerProcess: 0.5 }, /^gpusPerProcess: /],
    [
      { arguments: ["x"], launcher: "aprun" as Application.Launcher },
      /^launcher: expected one of single, multiple, srun, mpirun, mpiexec/,
    ],
    [{ arguments: ["x"], exclusive: "yes" as unknown as boolean }, /^exclusive: /],
    [
      { arguments: ["x"], launcher: "multiple", nodes: 2, processes: 4 },
      /^launcher, nodes: the multiple launcher starts every copy on the first node/,
    ],
  ]
  for (const [input, expected] of cases) match(await invalid(input), expected)
})

Deno.test("shape: GPUs, exclusive and the launcher are kept", () => {
  const app = make({
    arguments: ["train"],
    processes: 4,
    gpusPerProcess: 1,
    exclusive: true,
    launcher: "srun",
  })
  const s = Application.shape(app)
  deepStrictEqual([s.gpusPerProcess, s.exclusive, s.launcher], [1, true, "srun"])
})

Deno.test("shape: a decoded record must be consistent; the error names the fields", () => {
  const encoded = Schema.encodeSync(Application.Application)(make({ arguments: ["x"] }))
  const bad = Schema.decodeUnknownEither(Application.Application)({
    ...encoded,
    requestedCores: 3,
    processes: 2,
  })
  ok(bad._tag === "Left")
  match(String(bad.left), /requestedCores, processes: 3 cores do not split evenly/)
  const old = Schema.decodeUnknownSync(Application.Application)(encoded)
  strictEqual(Application.shape(old).processes, 1)
})

/** Sometimes a value, more often absent. */
const maybe = <A>(arb: fc.Arbitrary<A>): fc.Arbitrary<A | undefined> =>
  fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb })

/** Loose shape inputs: any subset of the fields, small numbers, often inconsistent. */
const shapeInput: fc.Arbitrary<Application.ApplicationInput> = fc.record({
  nodes: maybe(fc.integer({ min: 1, max: 4 })),
  processes: maybe(fc.integer({ min: 1, max: 16 })),
  processesPerNode: maybe(fc.integer({ min: 1, max: 8 })),
  coresPerProcess: maybe(fc.integer({ min: 1, max: 4 })),
  requestedCores: maybe(fc.integer({ min: 1, max: 32 })),
  gpusPerProcess: maybe(fc.integer({ min: 0, max: 2 })),
  exclusive: maybe(fc.boolean()),
  launcher: maybe(fc.constantFrom(...Application.launchers)),
}).map((shape) => ({
  arguments: ["x"],
  ...Object.fromEntries(Object.entries(shape).filter(([, v]) => v !== undefined)),
}))

Deno.test("property: make infers a consistent shape, or refuses naming a field it was given", () => {
  const encode = Schema.encodeSync(Application.Application)
  const decode = Schema.decodeUnknownSync(Application.Application)
  let made = 0
  fc.assert(
    fc.property(shapeInput, (input) => {
      const exit = Effect.runSyncExit(Application.make(input))
      if (Exit.isFailure(exit)) {
        const e = Effect.runSync(Effect.flip(Application.make(input)))
        const fields = e.description!.split(": ")[0]!.split(", ")
        ok(fields.some((f) => f in input), `${e.description} names a given field`)
        return
      }
      made++
      const app = exit.value
      const s = Application.shape(app)
      strictEqual(app.requestedCores, s.processes * s.coresPerProcess)
      if (s.nodes !== undefined && s.processesPerNode !== undefined) {
        strictEqual(s.processes, s.nodes * s.processesPerNode)
      }
      for (const k of ["nodes", "processes", "processesPerNode", "coresPerProcess"] as const) {
        if (input[k] !== undefined) strictEqual(s[k], input[k], k)
      }
      if (input.requestedCores !== undefined) strictEqual(app.requestedCores, input.requestedCores)
      const back = decode(JSON.parse(JSON.stringify(encode(app))))
      deepStrictEqual(Application.shape(back), s)
    }),
    { numRuns: 500 },
  )
  ok(made > 100, `${made} of 500 inputs were consistent`)
})
