/**
 * Runs test/user/local_schedulers.ts (the batch backends over the local transport) as the test
 * user `lrmskey`, since OpenPBS and OpenLava refuse root's jobs: as root, it copies the project
 * and Deno's cache where that user can read them, runs `deno test` there with `runuser`, and
 * reports each of that run's tests as a step of its own (a failed or ignored one fails). Run as
 * a normal user, it imports the file, whose tests then run in this process.
 */
import { ok } from "node:assert/strict"
import { lsfTest } from "./_lsf.ts"
import { pbsTest } from "./_pbs.ts"
import { sshd } from "./_sshd.ts"
import { torqueTest } from "./_torque.ts"

const USER = "lrmskey"
const FILE = "test/user/local_schedulers.ts"

const root = new URL("../", import.meta.url).pathname

const sh = async (cmd: string, args: ReadonlyArray<string>, options: Deno.CommandOptions = {}) => {
  const r = await new Deno.Command(cmd, {
    args: [...args],
    stdout: "piped",
    stderr: "piped",
    ...options,
  })
    .output()
  const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr)
  return { ok: r.success, code: r.code, text }
}

/** The test cases of a JUnit report: name, and why it did not pass (undefined when it did). */
const cases = (xml: string): Array<{ name: string; problem: string | undefined }> => {
  const unescape = (s: string) =>
    s.replaceAll("&quot;", '"').replaceAll("&apos;", "'").replaceAll("&lt;", "<")
      .replaceAll("&gt;", ">").replaceAll("&amp;", "&")
  const out: Array<{ name: string; problem: string | undefined }> = []
  const re = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g
  for (const m of xml.matchAll(re)) {
    const name = unescape(/\bname="([^"]*)"/.exec(m[1]!)?.[1] ?? "?")
    const body = m[3] ?? ""
    const failure =
      /<failure\b[^>]*?(?:message="([^"]*)")?[^>]*>([\s\S]*?)<\/failure>|<failure\b[^>]*\/>/
        .exec(body)
    const problem = failure !== null
      ? unescape(failure[1] ?? failure[2] ?? "failed").slice(0, 4000)
      : /<skipped\b/.test(body)
      ? "ignored (its server is down)"
      : undefined
    out.push({ name, problem })
  }
  return out
}

if (Deno.uid() !== 0) {
  await import("./user/local_schedulers.ts")
} else {
  const down = [pbsTest, torqueTest, lsfTest].every((t) => t.ignore)
  const known = sshd !== undefined // the test users exist once the sshd is up
  Deno.test({
    name: `the batch backends over the local transport, as ${USER} (${FILE})`,
    ignore: down || !known,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      const stage = `/tmp/effect-lrms-as-${USER}`
      const info = JSON.parse((await sh("deno", ["info", "--json"])).text) as { denoDir: string }
      await Deno.remove(stage, { recursive: true }).catch(() => {})
      await Deno.mkdir(stage, { recursive: true })
      for (
        const entry of [
          "deno.json",
          "deno.lock",
          "package.json",
          "mod.ts",
          "src",
          "backends",
          "test",
        ]
      ) {
        const r = await sh("cp", ["-a", `${root}${entry}`, `${stage}/`])
        ok(r.ok, r.text)
      }
      const cache = await sh("cp", ["-a", info.denoDir, `${stage}/deno-dir`])
      ok(cache.ok, cache.text)
      const own = await sh("chown", ["-R", `${USER}:`, stage])
      ok(own.ok, own.text)
      const run = await sh("runuser", [
        "-u",
        USER,
        "--",
        "env",
        "-i",
        "PATH=/usr/local/bin:/usr/bin:/bin",
        `HOME=/home/${USER}`,
        `DENO_DIR=${stage}/deno-dir`,
        "NO_COLOR=1",
        "DENO_NO_UPDATE_CHECK=1",
        "deno",
        "test",
        "-A",
        "--cached-only",
        `--junit-path=${stage}/junit.xml`,
        FILE,
      ], { cwd: stage })
      const report = await Deno.readTextFile(`${stage}/junit.xml`).catch(() => "")
      const found = cases(report)
      ok(found.length > 0, `no test ran as ${USER} (deno test exited ${run.code}):\n${run.text}`)
      for (const c of found) {
        await t.step(c.name, () => {
          if (c.problem !== undefined) throw new Error(c.problem)
        })
      }
      ok(run.ok, `deno test as ${USER} exited ${run.code}`)
      await Deno.remove(stage, { recursive: true }).catch(() => {})
    },
  })
}
