/**
 * The test layout the test task relies on: the fault tests of `test/serial/` stop sshd and
 * slurmctld, so they must stay out of the parallel run, whose discovery takes `*.test.ts`.
 */
import { deepStrictEqual, ok } from "node:assert/strict"

Deno.test("layout: no file of test/serial/ is found by the parallel run's discovery", () => {
  const names = [...Deno.readDirSync(new URL("./serial/", import.meta.url))].map((e) => e.name)
  ok(names.length > 0, "test/serial/ has its fault tests")
  deepStrictEqual(names.filter((n) => !n.endsWith(".serial.ts")), [], "each is named *.serial.ts")
  const task = JSON.parse(Deno.readTextFileSync(new URL("../deno.json", import.meta.url))).tasks
    .test as string
  ok(task.includes("test/serial/*.serial.ts"), `the test task runs them on their own: ${task}`)
})
