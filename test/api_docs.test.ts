/**
 * The public API reads as a guide: every symbol of every entry point in deno.json's `exports`
 * has a sentence, a `@since` and one of a small set of `@category` names; the root entry point
 * holds what a user programs against, and parsers and argv builders stay out of it.
 */
import { deepStrictEqual, ok } from "node:assert/strict"

/** The categories an export may have: a small set, as Effect's own packages use. */
const categories = new Set([
  "models",
  "tags",
  "constructors",
  "layers",
  "accessors",
  "combinators",
  "errors",
  "parsing",
  "commands",
  "predicates",
  "conversions",
  "transfer",
  "metrics",
  "testing",
])

interface DocNode {
  readonly name: string
  readonly declarations: ReadonlyArray<{
    readonly kind: string
    readonly jsDoc?: {
      readonly doc?: string
      readonly tags?: ReadonlyArray<Record<string, string>>
    }
    readonly def?: { readonly elements?: ReadonlyArray<DocNode> }
  }>
}

const root = new URL("..", import.meta.url)
const exportsOf = (): Record<string, string> =>
  JSON.parse(Deno.readTextFileSync(new URL("deno.json", root))).exports

const docJson = (entry: string): ReadonlyArray<DocNode> => {
  const out = new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", entry],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).outputSync()
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr))
  const json = JSON.parse(new TextDecoder().decode(out.stdout))
  return Object.values(json.nodes as Record<string, { symbols: ReadonlyArray<DocNode> }>)
    .flatMap((n) => n.symbols)
}

/** Every problem of one symbol: no sentence, no `@since`, no category or one outside the set. */
const problems = (path: string, node: DocNode): Array<string> =>
  node.declarations.flatMap((d) => {
    if (d.kind === "namespace") {
      return (d.def?.elements ?? []).flatMap((e) => problems(`${path}.${e.name}`, e))
    }
    if (d.kind === "import") return []
    const tags = d.jsDoc?.tags ?? []
    const out: Array<string> = []
    if ((d.jsDoc?.doc ?? "").trim() === "") out.push(`${path}: no description`)
    if (!tags.some((t) => t.kind === "since")) out.push(`${path}: no @since`)
    const category = tags.find((t) => t.kind === "category")
    if (category === undefined) out.push(`${path}: no @category`)
    else if (!categories.has(category.doc ?? "")) {
      out.push(`${path}: category ${JSON.stringify(category.doc)} is not one of the set`)
    }
    return out
  })

Deno.test("api: every export of every entry point has a sentence, @since and a known @category", () => {
  const found: Array<string> = []
  for (const [name, file] of Object.entries(exportsOf())) {
    for (const node of docJson(file)) found.push(...problems(`${name}:${node.name}`, node))
  }
  deepStrictEqual(found, [])
})

Deno.test("api: the root holds the model and the services; parsers and SSH have their own entry points", () => {
  const names = docJson("mod.ts").map((n) => n.name).sort()
  for (
    const internal of ["SlurmParse", "SgeParse", "PbsParse", "LsfParse", "BatchScript", "Shell"]
  ) {
    ok(!names.includes(internal), `${internal} is exported from the root`)
  }
  for (const core of ["Application", "Job", "Lrms", "LrmsError", "Transport", "Shellcmd"]) {
    ok(names.includes(core), `${core} is missing from the root`)
  }
  const entries = Object.keys(exportsOf())
  for (
    const sub of [
      "./ssh",
      "./slurm",
      "./sge",
      "./pbs",
      "./lsf",
      "./config",
      "./dialects",
      "./testing",
    ]
  ) {
    ok(entries.includes(sub), `no ${sub} entry point`)
  }
})

Deno.test("api: a shellcmd program over the local transport loads no ssh2, @effect/cli or scheduler parser", () => {
  const out = new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "mod.ts"],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).outputSync()
  ok(out.success, new TextDecoder().decode(out.stderr))
  const info = JSON.parse(new TextDecoder().decode(out.stdout))
  // the module graph: the project's files and the npm modules they import (npm:/name@version/…);
  // info.npmPackages lists the whole lock file, so it is not read
  const loaded: Array<string> = info.modules.map((m: { specifier: string }) => m.specifier)
  ok(loaded.some((m) => m.startsWith("npm:/effect@")), "the module graph was not read")
  for (
    const heavy of [
      "ssh2",
      "@effect/cli",
      "Parse.ts",
      "/ssh/",
      "/slurm/",
      "/sge/",
      "/pbs/",
      "/lsf/",
    ]
  ) {
    deepStrictEqual(loaded.filter((m) => m.includes(heavy)), [], `the root loads ${heavy}`)
  }
})
