/**
 * Bookkeeping: the pure part of shellcmd's shared capacity accounting (spec §3.5, §3.6).
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict"
import * as fc from "effect/FastCheck"
import * as Bookkeeping from "../backends/shellcmd/Bookkeeping.ts"

const A = "0b6f1c2e-8d1a-4c55-9a77-3f0f0e6a1b01"
const B = "5e0c7d90-1f4b-4e8e-a0d2-8c1c0f5b9e02"
const C = "9a1d2b3c-4e5f-4a6b-8c7d-0e1f2a3b4c03"

Deno.test("entryName and doneName", () => {
  strictEqual(Bookkeeping.entryName(A, 2, 1073741824), `${A}~2~1073741824.job`)
  strictEqual(Bookkeeping.entryName("j1", 1, 0), "j1~1~0.job")
  strictEqual(Bookkeeping.doneName(A), `${A}.done`)
})

Deno.test("active: the .job files without a .done beside them", () => {
  const names = [
    Bookkeeping.entryName(A, 2, 1000),
    Bookkeeping.entryName(B, 1, 0),
    Bookkeeping.doneName(B),
    Bookkeeping.entryName(C, 4, 4096),
    // the lock, temporary files, and strangers are not jobs
    ".lock",
    `.${Bookkeeping.entryName(A, 2, 1000)}.1a2b3c4d.tmp`,
    "README",
    "x~y~z.job",
    `${A}~2.job`,
    // a done marker without its record holds nothing
    Bookkeeping.doneName("gone"),
  ]
  deepStrictEqual(Bookkeeping.active(names), [
    { jobId: A, cores: 2, memory: 1000, file: `${A}~2~1000.job` },
    { jobId: C, cores: 4, memory: 4096, file: `${C}~4~4096.job` },
  ])
  deepStrictEqual(Bookkeeping.active([]), [])
})

Deno.test("used: sums cores and memory", () => {
  deepStrictEqual(Bookkeeping.used([]), { cores: 0, memory: 0 })
  deepStrictEqual(
    Bookkeeping.used(Bookkeeping.active([
      Bookkeeping.entryName(A, 2, 1000),
      Bookkeeping.entryName(B, 1, 24),
      Bookkeeping.entryName(C, 4, 4096),
      Bookkeeping.doneName(C),
    ])),
    { cores: 3, memory: 1024 },
  )
})

const jobId = fc.oneof(fc.uuid(), fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/))
const job = fc.record({
  jobId,
  cores: fc.integer({ min: 1, max: 1024 }),
  memory: fc.nat({ max: 2 ** 50 }),
  done: fc.boolean(),
})

Deno.test("property: active reads back what entryName/doneName wrote, in any order", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(job, { selector: (j) => j.jobId, maxLength: 12 }),
      fc.array(fc.string(), { maxLength: 5 }),
      fc.infiniteStream(fc.nat()),
      (jobs, noise, randomness) => {
        const names = [
          ...jobs.map((j) => Bookkeeping.entryName(j.jobId, j.cores, j.memory)),
          ...jobs.filter((j) => j.done).map((j) => Bookkeeping.doneName(j.jobId)),
          // noise that cannot be read as a record
          ...noise.filter((n) => !n.endsWith(".job") && !n.endsWith(".done")),
        ]
        // shuffle: a directory listing has no order
        const it = randomness[Symbol.iterator]()
        const shuffled = names
          .map((n) => ({ n, k: it.next().value as number }))
          .sort((a, b) => a.k - b.k)
          .map((x) => x.n)
        const listed = Bookkeeping.active(shuffled)
        const expected = jobs.filter((j) => !j.done)
        deepStrictEqual(
          [...listed].map((l) => l.jobId).sort(),
          expected.map((j) => j.jobId).sort(),
        )
        for (const l of listed) {
          const j = expected.find((e) => e.jobId === l.jobId)!
          strictEqual(l.cores, j.cores)
          strictEqual(l.memory, j.memory)
          strictEqual(l.file, Bookkeeping.entryName(j.jobId, j.cores, j.memory))
        }
        deepStrictEqual(Bookkeeping.used(listed), {
          cores: expected.reduce((s, j) => s + j.cores, 0),
          memory: expected.reduce((s, j) => s + j.memory, 0),
        })
      },
    ),
    { numRuns: 300 },
  )
})

Deno.test("property: active never throws on arbitrary names", () => {
  fc.assert(
    fc.property(fc.array(fc.fullUnicodeString()), (names) => {
      for (const l of Bookkeeping.active(names)) {
        strictEqual(names.includes(l.file), true)
        strictEqual(Number.isInteger(l.cores) && Number.isInteger(l.memory), true)
      }
    }),
  )
})
