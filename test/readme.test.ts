/**
 * The README's example program runs as printed: its first `ts` block is run with this project's
 * import map, and what it prints is checked against the comment under it.
 */
import { ok, strictEqual } from "node:assert/strict"

Deno.test("README: the first program works as printed", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url))
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1]
  ok(block !== undefined, "the README has a ts block")
  const file = new URL(`./.readme-example-${crypto.randomUUID()}.ts`, import.meta.url)
  await Deno.writeTextFile(file, block)
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--config",
        new URL("../deno.json", import.meta.url).pathname,
        file.pathname,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output()
    const stdout = new TextDecoder().decode(out.stdout)
    strictEqual(out.code, 0, new TextDecoder().decode(out.stderr))
    ok(/^3 hello from \S+\n\n?$/.test(stdout), `printed ${JSON.stringify(stdout)}`)
  } finally {
    await Deno.remove(file)
  }
})
