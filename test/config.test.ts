/**
 * Config: GC3Pie's example configuration (spec §8.4, copied to test/data/gc3pie.conf) and
 * variants decode to the right specs and layers; bad files name file, section and key; the INI
 * rules of Python's ConfigParser (continuations, no inline comments, interpolation).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Shellcmd from "../backends/shellcmd/Shellcmd.ts"
import { SlurmConfig } from "../backends/slurm/Slurm.ts"
import * as Gc3pieConfig from "../src/Gc3pieConfig.ts"
import { runFailure, runTest } from "./_effect.ts"

const parse = (text: string, files: Record<string, string> = {}) =>
  Gc3pieConfig.parse(text, "test.conf", {
    dir: "/conf",
    files: {
      read: (p) => p in files ? Effect.succeed(files[p]!) : Effect.fail(`cannot read ${p}`),
    },
  })

const minimal = (extra = "", type = "shellcmd") =>
  `[resource/r]\ntype = ${type}\nmax_cores = 4\nmax_cores_per_job = 2\nmax_memory_per_core = 2 GB\n` +
  `max_walltime = 8 hours\narchitecture = x86_64\n${extra}`

Deno.test("GC3Pie's example file decodes unchanged: six resources, two auths", async () => {
  const text = await Deno.readTextFile(new URL("./data/gc3pie.conf", import.meta.url))
  const file = await runTest(parse(text))
  deepStrictEqual(file.resources.map((r) => [r.name, r.backend, r.transport.kind]), [
    ["localhost", "shellcmd", "local"],
    ["workstation", "shellcmd", "ssh"],
    ["hydra", "slurm", "ssh"],
    ["torque", "pbs", "local"],
    ["sge", "sge", "ssh"],
    ["lsf", "lsf", "local"],
  ])
  const hydra = file.resources[2]!
  deepStrictEqual(hydra.auth, {
    name: "ssh_alice",
    type: "ssh",
    username: "alice",
    keyfile: undefined,
    port: undefined,
    timeout: undefined,
    sshConfig: undefined,
  })
  strictEqual(hydra.transport.kind === "ssh" && hydra.transport.host, "login.cluster.example.org")
  const ws = await runTest(
    parse(
      minimal(
        "transport = ssh\nfrontend = ws\nlarge_file_threshold = 256\nignore_ssh_host_keys = yes\n",
      ),
    ),
  )
  const t = ws.resources[0]!.transport
  ok(t.kind === "ssh" && t.bulkThreshold === "256 MB" && t.ignoreHostKeys)
  deepStrictEqual(hydra.config, {
    name: "hydra",
    architecture: ["x86_64"],
    maxCores: 96,
    maxCoresPerJob: 64,
    maxMemoryPerCore: "4 GB",
    maxWalltime: "1 day",
    accountingDelay: "30 seconds",
    prologue: "module load python",
  })
  strictEqual(file.resources[0]!.config.override, false)
  strictEqual(file.resources[1]!.config.override, true)
  strictEqual(file.resources[3]!.config.queue, "short")
  strictEqual(file.resources[4]!.config.defaultPe, "smp")
  deepStrictEqual([...file.auths.keys()].sort(), ["noauth", "none", "ssh_alice"])
})

Deno.test("ConfigParser rules: DEFAULT merge, %(x)s, %%, continuations, no inline comments, case", async () => {
  const file = await runTest(parse(
    `[DEFAULT]\nHOME_DIR = /scratch/alice\nmax_walltime = 8 hours\n\n` +
      `[resource/r]\ntype = slurm\ntransport = local\nMax_Cores = 4\nmax_cores_per_job = 2\n` +
      `max_memory_per_core = 2 GB\narchitecture = x86_64, 32-bit x86\n` +
      `spooldir = %(home_dir)s/jobs\nprologue_content = module load a\n  module load b\n` +
      `epilogue_content = echo 100%% done # not a comment\n` +
      `sbatch = /opt/slurm/bin/sbatch --constraint="big mem"   # site default\n` +
      `custom_key: kept as is ; too\n`,
  ))
  const r = file.resources[0]!
  strictEqual(r.config.spooldir, "/scratch/alice/jobs")
  strictEqual(r.config.maxWalltime, "8 hours")
  strictEqual(r.config.maxCores, 4)
  deepStrictEqual(r.config.architecture, ["x86_64", "i686"])
  strictEqual(r.config.prologue, "module load a\nmodule load b")
  strictEqual(r.config.epilogue, "echo 100% done # not a comment")
  deepStrictEqual(r.config.commands, { sbatch: `'/opt/slurm/bin/sbatch' '--constraint=big mem'` })
  strictEqual(r.extra.custom_key, "kept as is ; too")
  strictEqual(r.extra.home_dir, "/scratch/alice")
})

Deno.test("GC3Pie's conversions: bare numbers are GB and hours; legacy names; disabled; +suffix", async () => {
  const file = await runTest(parse(
    `[resource/a]\ntype = subprocess\nncores = 3\nmax_memory_per_core = 2\nmax_walltime = 12\n` +
      `architecture = amd64\n\n` +
      `[resource/b]\ntype = shellcmd+ssh\ntransport = ssh\nfrontend = h\nmax_cores = 1\n` +
      `max_memory_per_core = 1 GiB\nmax_walltime = 1 hour\narchitecture = x64\nenabled = off\n\n` +
      `[resource/c]\ntype = sge\ntransport = local\nmax_cores = 8\nmax_memory_per_core = 1GB\n` +
      `max_walltime = 1h\narchitecture = 64bit\nsge_accounting_delay = 45\nmyapp_pe = mpi\n` +
      `prologue = pro.sh\n\n[other]\nx = 1\n`,
    { "/conf/pro.sh": "echo from-file" },
  ))
  deepStrictEqual(file.resources.map((r) => r.name), ["a", "c"])
  const a = file.resources[0]!
  strictEqual(a.backend, "shellcmd")
  strictEqual(a.config.maxCores, 3)
  strictEqual(a.config.maxMemoryPerCore, "2 GB")
  strictEqual(a.config.maxWalltime, "12 hours")
  const c = file.resources[1]!
  strictEqual(c.config.accountingDelay, "45 seconds")
  deepStrictEqual(c.config.pe, { myapp: "mpi" })
  strictEqual(c.config.prologue, "echo from-file")
  ok(file.warnings.some((w) => w.includes("[resource/b] is disabled")))
  ok(file.warnings.some((w) => w.includes("[other]")))
})

Deno.test("bad files: errors name the file, the section and the key", async () => {
  const cases: Array<[string, string]> = [
    [minimal().replace("type = shellcmd\n", ""), "[resource/r] type: required"],
    [minimal().replace("max_cores = 4", "max_cores = four"), "[resource/r] max_cores"],
    [minimal().replace("x86_64", "sparc"), "[resource/r] architecture: unknown architecture"],
    [minimal().replace("2 GB", "2 XB"), "[resource/r] max_memory_per_core"],
    [minimal().replace("type = shellcmd", "type = condor"), "[resource/r] type"],
    [minimal("auth = nobody\n"), "[resource/r] auth: no [auth/nobody] section"],
    [minimal("transport = ssh\n"), "[resource/r] frontend: required for transport = ssh"],
    [minimal("transport = carrier-pigeon\n"), "[resource/r] transport"],
    [minimal("spooldir = 50% full\n"), "[resource/r] spooldir: a lone %"],
    [minimal("spooldir = %(nope)s\n"), "[resource/r] spooldir: %(nope)s names no key"],
    [
      minimal("prologue = missing.sh\n", "slurm\ntransport = local"),
      "[resource/r] prologue: cannot read /conf/missing.sh",
    ],
    ["[auth/x]\ntype = ssh\n", "[auth/x] username: required"],
    ["[auth/x]\ntype = kerberos\n", "[auth/x] type"],
    ["key = value\n", "line 1: a key before any [section]"],
    ["[resource/r]\nthis line has no equals sign\n", "line 2: expected"],
  ]
  for (const [text, expected] of cases) {
    const err = await runFailure(parse(text))
    strictEqual(err.reason, "ConfigurationError")
    ok(err.message.includes("test.conf: "), err.message)
    ok(err.message.includes(expected), `${err.message}\n  expected: ${expected}`)
  }
})

Deno.test("booleans are read as ConfigParser.getboolean reads them; `no` keeps host keys checked", async () => {
  const hostKeys = async (value: string) => {
    const file = await runTest(
      parse(minimal(`transport = ssh\nfrontend = ws\nignore_ssh_host_keys = ${value}\n`)),
    )
    const t = file.resources[0]!.transport
    ok(t.kind === "ssh")
    return t.ignoreHostKeys
  }
  for (const no of ["no", "No", "0", "false", "FALSE", "off", " off "]) {
    strictEqual(await hostKeys(no), false, `ignore_ssh_host_keys = ${no}`)
  }
  for (const yes of ["yes", "YES", "1", "true", "True", "on"]) {
    strictEqual(await hostKeys(yes), true, `ignore_ssh_host_keys = ${yes}`)
  }
  const unset = (await runTest(parse(minimal("transport = ssh\nfrontend = ws\n")))).resources[0]!
  ok(unset.transport.kind === "ssh" && unset.transport.ignoreHostKeys === false)
  // override and enabled too
  const override = async (value: string) =>
    (await runTest(parse(minimal(`override = ${value}\n`)))).resources[0]!.config.override
  strictEqual(await override("off"), false)
  strictEqual(await override("On"), true)
  strictEqual((await runTest(parse(minimal("enabled = 0\n")))).resources.length, 0)
  strictEqual((await runTest(parse(minimal("enabled = Yes\n")))).resources.length, 1)
  // anything else is an error naming the file, the section and the key
  for (
    const [extra, key] of [
      ["transport = ssh\nfrontend = ws\nignore_ssh_host_keys = maybe\n", "ignore_ssh_host_keys"],
      ["transport = ssh\nfrontend = ws\nignore_ssh_host_keys =\n", "ignore_ssh_host_keys"],
      ["override = False-ish\n", "override"],
      ["enabled = perhaps\n", "enabled"],
    ] as const
  ) {
    const err = await runFailure(parse(minimal(extra)))
    strictEqual(err.reason, "ConfigurationError")
    ok(err.message.includes(`test.conf: [resource/r] ${key}: expected a boolean`), err.message)
  }
  const maybe = await runFailure(
    parse(minimal("transport = ssh\nfrontend = ws\nignore_ssh_host_keys = maybe\n")),
  )
  ok(maybe.message.includes(`got "maybe"`), maybe.message)
})

// =============================================================================
// parallel keys (issue 14)
// =============================================================================

const decodeAs = <A, I>(schema: Schema.Schema<A, I>, config: unknown) =>
  Schema.decodeUnknownSync(schema, { onExcessProperty: "error" })(config)

Deno.test("parallel keys: node limits, launcher, launcher commands and hooks", async () => {
  const file = await runTest(parse(minimal(
    "max_nodes_per_job = 1\ncores_per_node = 4\ngpus_per_node = 0\nlauncher = MPIRUN\n" +
      "mpirun = mpirun --oversubscribe --allow-run-as-root   # the tests run as root\n" +
      "pre_launch = echo pre\n  echo 'second line'\npost_launch = echo \"post $lrms_rc\"\n",
  )))
  const r = file.resources[0]!
  deepStrictEqual(
    [r.config.maxNodesPerJob, r.config.coresPerNode, r.config.gpusPerNode, r.config.launcher],
    [1, 4, 0, "mpirun"],
  )
  deepStrictEqual(r.config.launcherCommands, {
    mpirun: "'mpirun' '--oversubscribe' '--allow-run-as-root'",
  })
  strictEqual(r.config.preLaunch, "echo pre\necho 'second line'")
  strictEqual(r.config.postLaunch, 'echo "post $lrms_rc"')
  deepStrictEqual(r.extra, {}, "none of them is left over")
  // the backend's configuration takes them as they are
  const decoded = decodeAs(Shellcmd.ShellcmdConfig, r.config)
  strictEqual(decoded.launcher, "mpirun")
  const slurm = (await runTest(parse(minimal(
    "transport = local\nlauncher = srun\nsrun = /opt/slurm/bin/srun --mpi=pmix\n",
    "slurm",
  )))).resources[0]!
  const slurmConfig = decodeAs(SlurmConfig, slurm.config)
  deepStrictEqual(
    [slurmConfig.launcher, slurmConfig.launcherCommands?.srun],
    ["srun", "'/opt/slurm/bin/srun' '--mpi=pmix'"],
  )
})

Deno.test("parallel keys: a bad value names the file, the section and the key", async () => {
  for (
    const [extra, key] of [
      ["max_nodes_per_job = 0\n", "max_nodes_per_job: expected a whole number of at least 1"],
      ["cores_per_node = many\n", "cores_per_node: expected a whole number"],
      ["gpus_per_node = -1\n", "gpus_per_node: expected a whole number of at least 0"],
      [
        "launcher = aprun\n",
        'launcher: expected single, multiple, srun, mpirun, mpiexec, got "aprun"',
      ],
      ["mpiexec = 'unterminated\n", "mpiexec: cannot read the command"],
    ] as const
  ) {
    const err = await runFailure(parse(minimal(extra)))
    strictEqual(err.reason, "ConfigurationError")
    ok(err.message.includes(`test.conf: [resource/r] ${key}`), err.message)
  }
})
