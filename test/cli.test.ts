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

const lrms = (dir: string, ...args: Array<string>): Promise<Run> =>
  lrmsWith(["--config", `${dir}/gc3pie.conf`, "--store", `${dir}/jobs`], dir, ...args)

/** Runs the CLI with the root options given (no default --config / --store). */
const lrmsWith = async (root: Array<string>, dir: string, ...args: Array<string>): Promise<Run> => {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...root, ...args],
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

const localConf = (dir: string) =>
  `[resource/laptop]\ntype = shellcmd\ntransport = local\nauth = none\nmax_cores = 4\n` +
  `max_cores_per_job = 2\nmax_memory_per_core = 1 GB\nmax_walltime = 1 hour\n` +
  `architecture = x86_64, aarch64\nspooldir = ${dir}/spool\nresourcedir = ${dir}/bk\n`

/** A CLI error: one `error:` line on stderr, no stack trace, no log record. */
const oneErrorLine = (r: Run, what: RegExp) => {
  const lines = r.stderr.trimEnd().split("\n")
  strictEqual(lines.length, 1, r.stderr)
  ok(lines[0]!.startsWith("error: "), r.stderr)
  ok(what.test(lines[0]!), r.stderr)
  ok(!/\n\s+at |ERROR \(#/.test(r.stderr), r.stderr)
}

Deno.test({
  name: "cli: peek --offset -N --follow prints the last N bytes, then only what is appended",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = Deno.makeTempDirSync({ prefix: "lrms-cli-peek-" })
    try {
      Deno.writeTextFileSync(`${dir}/gc3pie.conf`, localConf(dir))
      const sub = await lrms(
        dir,
        "submit",
        "--stdout",
        "log",
        "--",
        "sh",
        "-c",
        'i=0; while [ $i -lt 8 ]; do i=$((i+1)); echo "line $i"; sleep 1; done',
      )
      strictEqual(sub.code, 0, sub.stderr)
      const id = sub.stdout.split(" ")[0]!
      const st = await lrms(dir, "status", "--json", id)
      const [{ remoteDir }] = JSON.parse(st.stdout) as [{ remoteDir: string }]
      const log = `${remoteDir}/log`
      // start following once the file is longer than the window
      const size = () => {
        try {
          return Deno.statSync(log).size
        } catch {
          return 0
        }
      }
      while (size() < 21) await new Promise((r) => setTimeout(r, 100))
      const follow = await lrms(dir, "peek", id, "log", "--offset", "-10", "--follow")
      strictEqual(follow.code, 0, follow.stderr)
      const text = Deno.readTextFileSync(log)
      strictEqual(text, [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `line ${i}\n`).join(""))
      // a suffix of the file, each byte once: the window, then what came after it
      ok(text.endsWith(follow.stdout), JSON.stringify(follow.stdout))
      ok(follow.stdout.length >= 10 && follow.stdout.length < text.length, follow.stdout)
      // a job already done: the last N bytes, once
      const again = await lrms(dir, "peek", id, "log", "--offset", "-10", "--follow")
      strictEqual(again.stdout, text.slice(-10))
    } finally {
      Deno.removeSync(dir, { recursive: true })
    }
  },
})

Deno.test({
  name: "cli: exit codes; file errors are one line, without a stack trace",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = Deno.makeTempDirSync({ prefix: "lrms-cli-exit-" })
    try {
      Deno.writeTextFileSync(`${dir}/gc3pie.conf`, localConf(dir))
      // submit --wait: the job's failure is the command's
      const failed = await lrms(dir, "submit", "--wait", "--", "sh", "-c", "exit 3")
      strictEqual(failed.code, 1, failed.stdout + failed.stderr)
      ok(failed.stdout.includes("TERMINATING: exited with code 3"), failed.stdout)
      const fine = await lrms(dir, "submit", "--wait", "--", "true")
      strictEqual(fine.code, 0, fine.stderr)
      // a --config that cannot be read
      for (const config of [`${dir}/missing.conf`, dir]) {
        const r = await lrmsWith(["--config", config, "--store", `${dir}/jobs`], dir, "status")
        strictEqual(r.code, 1)
        oneErrorLine(r, /cannot read the configuration file/)
      }
      // a --store that cannot be made
      Deno.writeTextFileSync(`${dir}/a-file`, "")
      const store = await lrmsWith(
        ["--config", `${dir}/gc3pie.conf`, "--store", `${dir}/a-file/jobs`],
        dir,
        "status",
      )
      strictEqual(store.code, 1)
      oneErrorLine(store, /a-file\/jobs/)
      // an input that does not exist
      const input = await lrms(dir, "submit", "--input", "no-such-file", "--", "true")
      strictEqual(input.code, 1)
      oneErrorLine(input, /no-such-file/)
      // a results directory that cannot be made
      const id = fine.stdout.split(" ")[0]!
      const results = await lrms(dir, "results", id, "--dir", `${dir}/a-file/out`)
      strictEqual(results.code, 1)
      oneErrorLine(results, /a-file\/out/)
      // a command line it cannot read: @effect/cli says why, exit 2, no log record
      const usage = await lrms(dir, "submit", "--cores", "many", "--", "true")
      strictEqual(usage.code, 2)
      ok(usage.stderr.includes("many") && !/ERROR \(#|\n\s+at /.test(usage.stderr), usage.stderr)
    } finally {
      Deno.removeSync(dir, { recursive: true })
    }
  },
})

Deno.test({
  name: "cli: a submission whose outcome is unknown is said plainly, kept, and asked about again",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = Deno.makeTempDirSync({ prefix: "lrms-cli-unknown-" })
    const fake = new URL("./fake/lsf/bin/", import.meta.url).pathname
    try {
      // an LSF whose bsub exits 0 and prints no job id: the job may or may not be queued
      Deno.writeTextFileSync(
        `${dir}/gc3pie.conf`,
        `[resource/cluster]\ntype = lsf\ntransport = local\nauth = none\nmax_cores = 4\n` +
          `max_cores_per_job = 2\nmax_memory_per_core = 1 GB\nmax_walltime = 1 hour\n` +
          `architecture = x86_64, aarch64\nspooldir = ${dir}/spool\nbsub = true\n` +
          `bjobs = ${fake}bjobs\nbacct = ${fake}bacct\nbkill = ${fake}bkill\n` +
          `lshosts = ${fake}lshosts\n`,
      )
      const sub = await lrms(dir, "submit", "--", "echo", "hi")
      strictEqual(sub.code, 1, sub.stdout + sub.stderr)
      const m =
        /^error: the outcome of the submission is unknown: job (\S+) may be queued on cluster; its directory (\S+) is kept; run `lrms status` later to reconcile it$/m
          .exec(sub.stderr)
      ok(m !== null, sub.stderr)
      const [, tag, jobDir] = m
      strictEqual(jobDir, `${dir}/spool/job.${tag}`)
      ok(Deno.statSync(jobDir!).isDirectory)
      ok(!/\n\s+at |ERROR \(#/.test(sub.stderr), sub.stderr)
      // the store keeps it; status asks the resource again
      const st = await lrms(dir, "status")
      strictEqual(st.code, 0, st.stderr)
      ok(st.stdout.includes(tag!.slice(0, 8)), st.stdout)
      ok(st.stderr.includes("still unknown"), st.stderr)
    } finally {
      Deno.removeSync(dir, { recursive: true })
    }
  },
})
