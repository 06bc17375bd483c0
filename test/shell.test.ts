/**
 * Shell.quote: any string without NUL reaches a POSIX shell byte for byte.
 */
import { deepStrictEqual, strictEqual, throws } from "node:assert/strict"
import * as fc from "effect/FastCheck"
import * as Shell from "../src/Shell.ts"

const NASTY = [
  "",
  " ",
  "'",
  "''",
  '"',
  "\\",
  "\\'",
  "$(rm -rf /)",
  "`id`",
  "$HOME",
  "${PATH}",
  "\n",
  "a\nb\n",
  "\t",
  "*",
  "?",
  "[a-z]",
  "~",
  "~root",
  "-n",
  "-e",
  "--",
  "!",
  "!!",
  ";",
  "&&",
  "|",
  ">",
  "<",
  "#",
  "a b  c",
  "%s",
  "日本語",
  "\u00ff\u0100",
  "\x01\x7f",
  "emoji 😀",
]

/** Runs `printf %s <quoted>` in /bin/sh and returns what it printed, as bytes. */
const throughShell = async (word: string): Promise<Uint8Array> => {
  const out = await new Deno.Command("/bin/sh", {
    args: ["-c", `printf '%s' ${Shell.quote(word)}`],
    stdout: "piped",
    stderr: "piped",
    env: { LC_ALL: "C" },
  }).output()
  if (!out.success) {
    throw new Error(
      `sh failed for ${JSON.stringify(word)}: ${new TextDecoder().decode(out.stderr)}`,
    )
  }
  return out.stdout
}

const bytes = (s: string) => new TextEncoder().encode(s)

Deno.test("quote: single quotes, a ' becomes '\\''", () => {
  strictEqual(Shell.quote("abc"), "'abc'")
  strictEqual(Shell.quote(""), "''")
  strictEqual(Shell.quote("it's $HOME"), "'it'\\''s $HOME'")
  strictEqual(Shell.quote("'"), "''\\'''")
  strictEqual(Shell.command(["echo", "a b", "*"]), "'echo' 'a b' '*'")
  strictEqual(Shell.command([]), "")
})

Deno.test("quote: a NUL byte is refused", () => {
  throws(() => Shell.quote("a\0b"), TypeError)
  throws(() => Shell.quote("\0"), /NUL/)
  throws(() => Shell.command(["ok", "bad\0"]), TypeError)
})

Deno.test("quote: nasty strings reach /bin/sh unchanged", async () => {
  for (const word of NASTY) {
    deepStrictEqual(await throughShell(word), bytes(word), JSON.stringify(word))
  }
})

Deno.test("quote: a whole argv reaches /bin/sh unchanged, one word per argument", async () => {
  const argv = NASTY.filter((w) => w !== "")
  // each argument printed between < and > so that word boundaries show
  const out = await new Deno.Command("/bin/sh", {
    args: ["-c", `for a in ${Shell.command(argv)}; do printf '<%s>' "$a"; done`],
    stdout: "piped",
  }).output()
  deepStrictEqual(new TextDecoder().decode(out.stdout), argv.map((a) => `<${a}>`).join(""))
})

Deno.test("property: any string without NUL reaches /bin/sh byte for byte", async () => {
  const word = fc.oneof(
    fc.constantFrom(...NASTY),
    fc.fullUnicodeString({ maxLength: 24 }),
    fc.string({ unit: "binary", maxLength: 24 }),
    fc.stringOf(fc.constantFrom("'", '"', "\\", "$", "`", "\n", " ", "*", "~", "-", "(", ")", "a")),
  ).filter((s) => !s.includes("\0"))
  await fc.assert(
    fc.asyncProperty(word, async (s) => {
      deepStrictEqual(await throughShell(s), bytes(s), JSON.stringify(s))
    }),
    { numRuns: 50 },
  )
})

Deno.test("property: quote never lets a quote through unescaped", () => {
  fc.assert(
    fc.property(fc.fullUnicodeString().filter((s) => !s.includes("\0")), (s) => {
      const q = Shell.quote(s)
      strictEqual(q.startsWith("'") && q.endsWith("'"), true)
      // removing every escaped quote leaves no single quote inside
      strictEqual(q.slice(1, -1).replaceAll("'\\''", "").includes("'"), false)
    }),
  )
})

Deno.test("split reads back what command quoted, whatever the words", () => {
  fc.assert(
    fc.property(fc.array(fc.string().filter((s) => !s.includes("\0"))), (words) => {
      deepStrictEqual(Shell.split(Shell.command(words)), words)
    }),
  )
})

Deno.test("split: configuration command lines as GC3Pie users write them", () => {
  deepStrictEqual(Shell.split("/opt/slurm/bin/sbatch --constraint=gpu"), [
    "/opt/slurm/bin/sbatch",
    "--constraint=gpu",
  ])
  deepStrictEqual(Shell.split("scancel   # the site's scancel"), ["scancel"])
  deepStrictEqual(Shell.split(`sbatch --comment="a \\"b\\" \\$c" x#y`), [
    "sbatch",
    '--comment=a "b" $c',
    "x#y",
  ])
  deepStrictEqual(Shell.split("a\\ b 'c''d' \"\""), ["a b", "cd", ""])
  deepStrictEqual(Shell.split(""), [])
  strictEqual(Shell.split("'open"), undefined)
  strictEqual(Shell.split('"open'), undefined)
  strictEqual(Shell.split("trailing\\"), undefined)
})
