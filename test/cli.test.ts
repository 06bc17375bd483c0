/**
 * The command-line tool, driven end to end as a user would from a shell: `deno run cli.ts` with
 * a gc3pie.conf, on the local machine (shellcmd), and — with the servers up — on SLURM over SSH
 * to the test sshd (user lrmskey).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import { sshd } from "./_sshd.ts"
import { slurm } from "./_slurm.ts"

const CLI = new URL("../cli.ts", import.meta.url).pathname

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const lrms = async (dir: string, ...args: Array<string>): Promise<Run> => {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, "--config", `${dir}/gc3pie.conf`, "--store", `${dir}/jobs`, ...args],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).output()
  return {
    code: r.code,
    stdout: new TextDecoder().decode(r.stdout),
    stderr: new TextDecoder().decode(r.stderr),
  }
}

const session = async (dir: string, resource: string) => {
  // submit --wait: progress on stderr, the end on stdout
  const sub = await lrms(
    dir,
    "submit",
    "--stdout",
    "out.txt",
    "--output",
    "data.txt",
    "--env",
    "WHO=a b",
    "--wait",
    "--",
    "sh",
    "-c",
    'echo "hello $WHO"; echo 42 >data.txt; sleep 1',
  )
  strictEqual(sub.code, 0, sub.stderr)
  ok(sub.stdout.includes(`submitted to ${resource}`), sub.stdout)
  ok(sub.stdout.includes("TERMINATING: exited with code 0"), sub.stdout)
  ok(/RUNNING|TERMINATING/.test(sub.stderr), sub.stderr)
  const id = sub.stdout.split(" ")[0]!
  // status --json re-attaches to the stored job
  const st = await lrms(dir, "status", "--json", id.slice(0, 8))
  strictEqual(st.code, 0, st.stderr)
  const [job] = JSON.parse(st.stdout) as Array<{ id: string; state: string; resourceName: string }>
  deepStrictEqual([job!.id, job!.state, job!.resourceName], [id, "TERMINATING", resource])
  const table = await lrms(dir, "status")
  ok(
    table.stdout.includes(id.slice(0, 8)) && table.stdout.includes("exited with code 0"),
    table.stdout,
  )
  // peek from the end, results, free
  const pk = await lrms(dir, "peek", id.slice(0, 6), "out.txt", "--offset", "-4")
  strictEqual(pk.stdout, "a b\n")
  const res = await lrms(dir, "results", id, "--dir", `${dir}/res`)
  strictEqual(res.code, 0, res.stderr)
  strictEqual(Deno.readTextFileSync(`${dir}/res/out.txt`), "hello a b\n")
  strictEqual(Deno.readTextFileSync(`${dir}/res/data.txt`), "42\n")
  const fr = await lrms(dir, "free", id)
  strictEqual(fr.code, 0, fr.stderr)
  const after = await lrms(dir, "status", "--json")
  deepStrictEqual(JSON.parse(after.stdout), [])
  // a job no resource can run: every resource's reason, exit code 1
  const big = await lrms(dir, "submit", "--cores", "999", "--", "true")
  strictEqual(big.code, 1)
  ok(big.stderr.includes(`${resource}: `) && big.stderr.includes("requestedCores"), big.stderr)
  // cancel a running job
  const long = await lrms(dir, "submit", "--", "sleep", "60")
  const longId = long.stdout.split(" ")[0]!
  const cn = await lrms(dir, "cancel", longId)
  ok(cn.stdout.includes("TERMINATED"), cn.stdout + cn.stderr)
  strictEqual((await lrms(dir, "free", longId)).code, 0)
  // resources: static and dynamic attributes
  const rs = await lrms(dir, "resources", "--json")
  const [view] = JSON.parse(rs.stdout) as Array<Record<string, unknown>>
  strictEqual(view!.name, resource)
  ok(typeof view!.freeSlots === "number", rs.stdout)
}

Deno.test({
  name: "cli: submit --wait, status, peek, results, free, cancel, resources on the local machine",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = Deno.makeTempDirSync({ prefix: "lrms-cli-" })
    try {
      Deno.writeTextFileSync(
        `${dir}/gc3pie.conf`,
        `[resource/laptop]\ntype = shellcmd\ntransport = local\nauth = none\nmax_cores = 4\n` +
          `max_cores_per_job = 2\nmax_memory_per_core = 1 GB\nmax_walltime = 1 hour\n` +
          `architecture = x86_64, aarch64\nspooldir = ${dir}/spool\nresourcedir = ${dir}/bk\n`,
      )
      await session(dir, "laptop")
      // peek --follow prints a running job's output as it grows and stops when the job ends
      const sub = await lrms(
        dir,
        "submit",
        "--stdout",
        "log",
        "--",
        "sh",
        "-c",
        "for i in 1 2 3; do echo line $i; sleep 1; done",
      )
      const id = sub.stdout.split(" ")[0]!
      const follow = await lrms(dir, "peek", id, "log", "--follow")
      strictEqual(follow.code, 0, follow.stderr)
      strictEqual(follow.stdout, "line 1\nline 2\nline 3\n")
    } finally {
      Deno.removeSync(dir, { recursive: true })
    }
  },
})

Deno.test({
  name: "cli: the same session on SLURM over SSH, from an unchanged GC3Pie configuration",
  ignore: sshd === undefined || slurm === undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = Deno.makeTempDirSync({ prefix: "lrms-cli-slurm-" })
    try {
      Deno.writeTextFileSync(
        `${dir}/gc3pie.conf`,
        `[auth/ssh_lrms]\ntype = ssh\nusername = ${sshd!.keyUser}\nkeyfile = ${sshd!.key}\n\n` +
          `[resource/cluster]\ntype = slurm\ntransport = ssh\nfrontend = lrms-key\n` +
          `ssh_config = ${
            sshd!.sshConfig
          }\nauth = ssh_lrms\nmax_cores = 8\nmax_cores_per_job = 4\n` +
          `max_memory_per_core = 2 GB\nmax_walltime = 1 hour\narchitecture = x86_64, aarch64\n` +
          `accounting_delay = 20\nspooldir = $HOME/.effect-lrms-test/cli-${dir.split("-").pop()}\n`,
      )
      await session(dir, "cluster")
    } finally {
      Deno.removeSync(dir, { recursive: true })
    }
  },
})

Deno.test({
  name: "cli: the same session on shellcmd over SSH (transport = ssh, a GC3Pie auth section)",
  ignore: sshd === undefined,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = Deno.makeTempDirSync({ prefix: "lrms-cli-ssh-" })
    const tag = dir.split("-").pop()
    try {
      Deno.writeTextFileSync(
        `${dir}/gc3pie.conf`,
        `[auth/ssh_lrms]\ntype = ssh\nusername = ${sshd!.keyUser}\nkeyfile = ${sshd!.key}\n\n` +
          `[resource/workstation]\ntype = shellcmd\ntransport = ssh\nfrontend = lrms-key\n` +
          `ssh_config = ${
            sshd!.sshConfig
          }\nauth = ssh_lrms\nmax_cores = 4\nmax_cores_per_job = 2\n` +
          `max_memory_per_core = 1 GB\nmax_walltime = 1 hour\narchitecture = x86_64, aarch64\n` +
          `spooldir = $HOME/.effect-lrms-test/cli-${tag}/spool\n` +
          `resourcedir = $HOME/.effect-lrms-test/cli-${tag}/bk\n`,
      )
      await session(dir, "workstation")
    } finally {
      Deno.removeSync(dir, { recursive: true })
    }
  },
})
