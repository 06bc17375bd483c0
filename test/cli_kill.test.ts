/**
 * The CLI killed with SIGKILL, as a crash or an impatient user would: in the middle of
 * `submit --wait`, and in the middle of `results`. A new process on the same job store finds
 * the job, follows it to its end and fetches its outputs whole; the killed `results` left no
 * half-written file under an output's name.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"

const CLI = new URL("../cli.ts", import.meta.url).pathname
const FILES = 12
const SIZE = 4 * 1024 * 1024

const conf = (dir: string) =>
  `[resource/laptop]\ntype = shellcmd\ntransport = local\nauth = none\nmax_cores = 4\n` +
  `max_cores_per_job = 2\nmax_memory_per_core = 1 GB\nmax_walltime = 1 hour\n` +
  `architecture = x86_64, aarch64\nspooldir = ${dir}/spool\nresourcedir = ${dir}/bk\n`

const spawn = (dir: string, ...args: Array<string>) =>
  new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, "--config", `${dir}/gc3pie.conf`, "--store", `${dir}/jobs`, ...args],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).spawn()

const run = async (dir: string, ...args: Array<string>) => {
  const r = await spawn(dir, ...args).output()
  return {
    code: r.code,
    stdout: new TextDecoder().decode(r.stdout),
    stderr: new TextDecoder().decode(r.stderr),
  }
}

/** Reads a child's stdout until `pattern` shows, then SIGKILLs it; returns what it printed. */
const killWhen = async (child: Deno.ChildProcess, pattern: RegExp): Promise<string> => {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader()
  let seen = ""
  while (!pattern.test(seen)) {
    const { value, done } = await reader.read()
    if (done) break
    seen += value
  }
  child.kill("SIGKILL")
  reader.releaseLock()
  await child.stderr.cancel()
  const status = await child.status
  strictEqual(status.signal, "SIGKILL", `the CLI was killed (it printed: ${seen})`)
  return seen
}

Deno.test("cli: SIGKILL during submit --wait and during results loses nothing", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "lrms-cli-kill-" })
  try {
    Deno.writeTextFileSync(`${dir}/gc3pie.conf`, conf(dir))
    const outputs = Array.from({ length: FILES }, (_, i) => `f${i}.txt`)
    // the job: wait a little, then write the outputs
    const script = `sleep 2; i=0; while [ $i -lt ${FILES} ]; do ` +
      `line=$(printf '%-63s' "file $i " | tr ' ' .); ` +
      `yes "$line" | head -c ${SIZE} > f$i.txt; i=$((i+1)); done; echo done`
    const submit = spawn(
      dir,
      "submit",
      "--stdout",
      "out.txt",
      ...outputs.flatMap((o) => ["--output", o]),
      "--wait",
      "--",
      "sh",
      "-c",
      script,
    )
    const printed = await killWhen(submit, /submitted to laptop/)
    const id = printed.split(" ")[0]!
    ok(/^[0-9a-f-]{36}$/.test(id), printed)
    // a new process finds the job in the store and follows it to its end
    let state = ""
    for (let i = 0; i < 120 && state !== "TERMINATING"; i++) {
      const st = await run(dir, "status", "--json", id)
      strictEqual(st.code, 0, st.stderr)
      state = (JSON.parse(st.stdout) as Array<{ state: string }>)[0]!.state
      if (state !== "TERMINATING") await new Promise((r) => setTimeout(r, 500))
    }
    strictEqual(state, "TERMINATING", "the job the killed CLI submitted ran to its end")
    // results, killed while it copies: every file under an output's name is whole
    const into = `${dir}/results`
    Deno.mkdirSync(into)
    const results = spawn(dir, "results", id, "--dir", into)
    // kill it as soon as it has begun writing into the directory
    for (let i = 0; i < 6000 && [...Deno.readDirSync(into)].length === 0; i++) {
      await new Promise((r) => setTimeout(r, 5))
    }
    const begun = [...Deno.readDirSync(into)].map((e) => e.name)
    results.kill("SIGKILL")
    await results.output().catch(() => undefined)
    const check = (phase: string) => {
      let whole = 0
      for (let i = 0; i < FILES; i++) {
        let bytes: Uint8Array
        try {
          bytes = Deno.readFileSync(`${into}/f${i}.txt`)
        } catch {
          continue
        }
        strictEqual(bytes.length, SIZE, `${phase}: f${i}.txt is whole or absent`)
        // the job ran here (local shellcmd): its own file is the reference
        const original = Deno.readFileSync(`${dir}/spool/job.${id}/f${i}.txt`)
        ok(bytes.every((b, k) => b === original[k]), `${phase}: f${i}.txt has the right bytes`)
        whole++
      }
      return whole
    }
    const wholeAfterKill = check("after the kill")
    ok(begun.length > 0, "the kill came while results was writing")
    console.log(`killed with ${begun.length} entries begun, ${wholeAfterKill} of ${FILES} whole`)
    // a new process fetches the rest
    const again = await run(dir, "results", id, "--dir", into)
    strictEqual(again.code, 0, again.stderr)
    strictEqual(check("after the second results"), FILES, "every output fetched, whole")
    strictEqual(Deno.readTextFileSync(`${into}/out.txt`), "done\n")
    // and the temporary copies the killed process left are gone
    deepStrictEqual(
      [...Deno.readDirSync(into)].map((e) => e.name).sort(),
      [...outputs, "out.txt"].sort(),
    )
  } finally {
    Deno.removeSync(dir, { recursive: true })
  }
})
