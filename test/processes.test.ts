/**
 * Processes: reading `ps` and finding a job's process tree (spec §3.3, §3.7; quirks 18 and 20).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as fc from "effect/FastCheck"
import * as Processes from "../backends/shellcmd/Processes.ts"

/**
 * Recorded with `LC_ALL=C TZ=UTC ps -A -o pid=,ppid=,pgid=,stat=,lstart=` (procps-ng 4.0.2),
 * trimmed; the last rows are a session whose leader 4242 has children in its group, one of
 * them (4351) with a child of its own in another group.
 */
const SAMPLE = `    1     0     0 SLl  Tue Nov 24 00:44:12 2026
    2     0     0 S    Tue Nov 24 00:44:12 2026
    3     2     0 S    Tue Nov 24 00:44:12 2026
    4     2     0 I<   Tue Nov 24 00:44:12 2026
   77     2     0 I    Tue Nov 24 00:44:13 2026
 1062     1  1062 Sl   Tue Nov 24 00:44:49 2026
 1063  1062  1063 Ss   Tue Nov  3 00:44:49 2026
 4241  1063  1063 S    Tue Nov 24 01:06:58 2026
 4242  4241  4242 S    Tue Nov 24 01:06:58 2026
 4351  4242  4242 Sl   Tue Nov 24 01:07:00 2026
 4352  4242  4242 S    Tue Nov 24 01:07:00 2026
 4353  4242  4242 S+   Tue Nov 24 01:07:00 2026
 4360  4351  4360 R    Tue Nov 24 01:07:01 2026
 4644     1  4644 Zs   Tue Nov 24 01:07:06 2026
 4657     1  4655 Z    Tue Nov 24 01:07:06 2026
`

const row = (
  pid: number,
  ppid: number,
  pgid = pid,
  stat = "S",
  startedAt: number | undefined = 1000,
): Processes.ProcessRow => ({ pid, ppid, pgid, stat, startedAt })

Deno.test("parseLstart: C locale, UTC, to seconds since the epoch", () => {
  strictEqual(
    Processes.parseLstart("Tue Nov 24 00:44:51 2026"),
    Date.UTC(2026, 10, 24, 0, 44, 51) / 1000,
  )
  // procps pads a one-digit day with a space
  strictEqual(
    Processes.parseLstart("Tue Nov  3 00:44:49 2026"),
    Date.UTC(2026, 10, 3, 0, 44, 49) / 1000,
  )
  strictEqual(Processes.parseLstart("  Thu Jan  1 00:00:00 1970  "), 0)
  strictEqual(Processes.parseLstart("Mon Feb 29 12:00:00 2028"), Date.UTC(2028, 1, 29, 12) / 1000)
  for (
    const bad of ["", "Tue Foo 24 00:44:51 2026", "24 Nov 2026", "Tue Nov 24 00:44 2026", "garbage"]
  ) {
    strictEqual(Processes.parseLstart(bad), undefined, bad)
  }
})

Deno.test("parsePs: the recorded sample", () => {
  const rows = Processes.parsePs(SAMPLE)
  strictEqual(rows.length, 15)
  deepStrictEqual(rows[0], {
    pid: 1,
    ppid: 0,
    pgid: 0,
    stat: "SLl",
    startedAt: Date.UTC(2026, 10, 24, 0, 44, 12) / 1000,
  })
  deepStrictEqual(rows[6], {
    pid: 1063,
    ppid: 1062,
    pgid: 1063,
    stat: "Ss",
    startedAt: Date.UTC(2026, 10, 3, 0, 44, 49) / 1000,
  })
  deepStrictEqual(rows.find((r) => r.pid === 4657), {
    pid: 4657,
    ppid: 1,
    pgid: 4655,
    stat: "Z",
    startedAt: Date.UTC(2026, 10, 24, 1, 7, 6) / 1000,
  })
  strictEqual(rows.find((r) => r.pid === 4353)?.stat, "S+")
})

Deno.test("parsePs: lines it cannot read are skipped; lstart is optional", () => {
  const rows = Processes.parsePs(
    "PID PPID\n\n  12 1 12 S\nnot a line\n 13 12 12 R+ bogus date\n\r\n",
  )
  deepStrictEqual(rows, [
    { pid: 12, ppid: 1, pgid: 12, stat: "S", startedAt: undefined },
    { pid: 13, ppid: 12, pgid: 12, stat: "R+", startedAt: undefined },
  ])
})

Deno.test("parsePs: the real ps of this machine", async () => {
  const out = await new Deno.Command(Processes.psAllArgv[0]!, {
    args: Processes.psAllArgv.slice(1),
    env: { ...Processes.psEnv },
    stdout: "piped",
    stderr: "null",
  }).output()
  ok(out.success, "ps ran")
  const text = new TextDecoder().decode(out.stdout)
  const rows = Processes.parsePs(text)
  strictEqual(
    rows.length,
    text.split("\n").filter((l) => l.trim() !== "").length,
    "every line read",
  )
  const me = rows.find((r) => r.pid === Deno.pid)
  ok(me !== undefined, "this process is listed")
  ok(me.startedAt !== undefined, "with a start time")
  const now = Date.now() / 1000
  ok(me.startedAt <= now + 1 && me.startedAt > now - 3600, `started recently: ${me.startedAt}`)
  ok(Processes.isAlive(me, me.startedAt))
  ok(Processes.tree(rows, Deno.pid).includes(Deno.pid))
})

Deno.test("tree: the root, its descendants and its group, leaves first", () => {
  const rows = Processes.parsePs(SAMPLE)
  const t = Processes.tree(rows, 4242)
  deepStrictEqual([...t].sort((a, b) => a - b), [4242, 4351, 4352, 4353, 4360])
  strictEqual(t.at(-1), 4242, "the root last")
  ok(t.indexOf(4360) < t.indexOf(4351), "a child before its parent")
  // a process with no children is a tree of one (GC3Pie's quirk 18 found none)
  deepStrictEqual(Processes.tree(rows, 4360), [4360])
  // unknown root: nothing
  deepStrictEqual(Processes.tree(rows, 99999), [])
})

Deno.test("tree: group members are included even when the root is gone", () => {
  const rows = [row(10, 1, 10), row(11, 10, 10), row(12, 1, 10), row(13, 12, 13), row(20, 1, 20)]
  deepStrictEqual([...Processes.tree(rows, 10)].sort((a, b) => a - b), [10, 11, 12, 13])
  const orphans = rows.filter((r) => r.pid !== 10)
  deepStrictEqual([...Processes.tree(orphans, 10)].sort((a, b) => a - b), [11, 12, 13])
})

Deno.test("tree: a group member deeper in the tree still comes before its parent", () => {
  // 5 is a grandchild of the root 100 (pid wrapped around), in the root's group
  const rows = [row(5, 9, 100), row(9, 100, 100), row(100, 1, 100)]
  const t = Processes.tree(rows, 100)
  deepStrictEqual(t, [5, 9, 100])
})

Deno.test("tree: cycles cannot loop (each pid once)", () => {
  const rows = [row(1, 2, 1), row(2, 1, 1), row(3, 3, 1), row(4, 3, 1)]
  const t = Processes.tree(rows, 1)
  deepStrictEqual([...t].sort(), [1, 2, 3, 4])
})

const rowsArbitrary = fc.array(
  fc.record({
    pid: fc.integer({ min: 1, max: 30 }),
    ppid: fc.integer({ min: 0, max: 30 }),
    pgid: fc.integer({ min: 0, max: 30 }),
    stat: fc.constantFrom("S", "R", "Z", "T", "Ss", "X"),
    startedAt: fc.option(fc.nat({ max: 2000 }), { nil: undefined }),
  }),
  { maxLength: 30 },
).map((rs) => {
  // a pid appears once in a process table
  const seen = new Set<number>()
  return rs.filter((r) => !seen.has(r.pid) && (seen.add(r.pid), true))
})

Deno.test("property: tree holds each pid once, only known pids, children before parents", () => {
  fc.assert(
    fc.property(rowsArbitrary, fc.integer({ min: 1, max: 30 }), (rows, root) => {
      const t = Processes.tree(rows, root)
      strictEqual(new Set(t).size, t.length, "no duplicates")
      const byPid = new Map(rows.map((r) => [r.pid, r]))
      for (const pid of t) ok(byPid.has(pid), `${pid} is in the table`)
      const ancestors = (pid: number): Set<number> => {
        const out = new Set<number>()
        let cur = byPid.get(pid)
        while (cur !== undefined && !out.has(cur.ppid) && cur.ppid !== cur.pid) {
          out.add(cur.ppid)
          cur = byPid.get(cur.ppid)
        }
        return out
      }
      // the root comes last, unless one of its ancestors is in its group
      const rootAncestors = [...ancestors(root)]
      if (byPid.has(root) && !rootAncestors.some((a) => t.includes(a))) {
        strictEqual(t.at(-1), root, "the root last")
      }
      // every member of the root's group is in
      for (const r of rows) if (r.pgid === root) ok(t.includes(r.pid), `group member ${r.pid}`)
      // every child of a member is in, and comes first — unless the two form a cycle
      const position = new Map(t.map((pid, i) => [pid, i]))
      for (const r of rows) {
        if (r.pid === r.ppid || !position.has(r.ppid)) continue
        ok(position.has(r.pid), `child ${r.pid} of ${r.ppid}`)
        if (!ancestors(r.ppid).has(r.pid)) {
          ok(position.get(r.pid)! < position.get(r.ppid)!, `${r.pid} before its parent ${r.ppid}`)
        }
      }
    }),
    { numRuns: 500 },
  )
})

Deno.test("isAlive: present, not a zombie, same start time", () => {
  ok(Processes.isAlive(row(5, 1, 5, "S", 1000), 1000))
  ok(Processes.isAlive(row(5, 1, 5, "R+", 1001), 1000), "within the tolerance")
  ok(Processes.isAlive(row(5, 1, 5, "S", 1000), undefined), "start time unknown on our side")
  ok(Processes.isAlive(row(5, 1, 5, "S", undefined), 1000), "start time unknown on ps's side")
  ok(!Processes.isAlive(undefined, 1000), "missing")
  ok(!Processes.isAlive(row(5, 1, 5, "Z", 1000), 1000), "zombie")
  ok(!Processes.isAlive(row(5, 1, 5, "Zs", 1000), 1000), "zombie session leader")
  ok(!Processes.isAlive(row(5, 1, 5, "X", 1000), 1000), "dead")
  // pid reuse: the same pid, started much later, is not our job
  ok(!Processes.isAlive(row(5, 1, 5, "S", 5000), 1000), "pid reused")
  ok(!Processes.isAlive(row(5, 1, 5, "S", 1003), 1000), "outside the default tolerance")
  ok(Processes.isAlive(row(5, 1, 5, "S", 1003), 1000, 5), "inside a wider tolerance")
})

Deno.test("sameStart: the same process, not one that reused the pid", () => {
  ok(Processes.sameStart(row(5, 1, 5, "S", 1000), 1000))
  ok(Processes.sameStart(row(5, 1, 5, "S", 1002), 1000))
  ok(!Processes.sameStart(row(5, 1, 5, "S", 1003), 1000))
  ok(Processes.sameStart(row(5, 1, 5, "S", 1003), 1000, 3))
  ok(Processes.sameStart(row(5, 1, 5, "S", undefined), 1000), "unknown on ps's side")
  ok(Processes.sameStart(row(5, 1, 5, "S", 1000), undefined), "unknown on our side")
  // a zombie may still be the same process: sameStart does not look at the state
  ok(Processes.sameStart(row(5, 1, 5, "Z", 1000), 1000))
})

Deno.test("psPidsArgv: one ps call for several pids", () => {
  deepStrictEqual(Processes.psPidsArgv([1, 22, 333]), [
    "ps",
    "-o",
    "pid=,ppid=,pgid=,stat=,lstart=",
    "-p",
    "1,22,333",
  ])
  deepStrictEqual(Processes.psEnv, { LC_ALL: "C", TZ: "UTC" })
})

Deno.test("property: parsePs never throws, and every row it returns is well formed", () => {
  const line = fc.oneof(
    fc.string(),
    fc.tuple(fc.nat(), fc.nat(), fc.nat(), fc.stringMatching(/^[A-Za-z<+]{1,4}$/), fc.string())
      .map(([a, b, c, s, rest]) => ` ${a} ${b}  ${c} ${s} ${rest}`),
    fc.constantFrom(...SAMPLE.split("\n")),
    fc.constant(" 99999999999999999999999 1 1 S"),
  )
  fc.assert(
    fc.property(
      fc.oneof(fc.fullUnicodeString(), fc.array(line).map((ls) => ls.join("\n"))),
      (text) => {
        for (const r of Processes.parsePs(text)) {
          ok(Number.isInteger(r.pid) && r.pid >= 0)
          ok(r.stat.length > 0 && !/\s/.test(r.stat))
          ok(r.startedAt === undefined || Number.isFinite(r.startedAt))
        }
      },
    ),
    { numRuns: 500 },
  )
})
