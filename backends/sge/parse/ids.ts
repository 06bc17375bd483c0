/**
 * Grid Engine's job ids: a job `123`, an array job's task (element) `123.4`, and the task-id
 * ranges `qstat` prints for an array's waiting tasks (`1-4:1`, `3,4`, `2-10:2`).
 *
 * @since 0.1.0
 * @module
 */

const jobIdRe = /^\d{1,12}$/
const elementIdRe = /^(\d{1,12})\.(\d{1,10})$/

/**
 * Tells whether an id is a plain job id (digits only).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isPlainJobId = (id: string): boolean => jobIdRe.test(id)

/**
 * Tells whether a job id may be put on a command line: a job (`123`) or an array task (`123.4`).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isValidJobId = (id: string): boolean => jobIdRe.test(id) || elementIdRe.test(id)

/**
 * An array task's id, `<job>.<task>`: what `qdel` takes and what the stat and accounting parsers
 * key a task by.
 *
 * @since 0.1.0
 * @category constructors
 */
export const elementId = (arrayId: string, index: number): string => `${arrayId}.${index}`

/**
 * A job id split into its job and, for an array task, its task (`123.4` → `{ job: "123", task:
 * 4 }`); `undefined` when it is neither.
 *
 * @since 0.1.0
 * @category parsing
 */
export const splitJobId = (
  id: string,
): { readonly job: string; readonly task?: number } | undefined => {
  if (jobIdRe.test(id)) return { job: id }
  const m = elementIdRe.exec(id)
  return m === null ? undefined : { job: m[1]!, task: Number(m[2]) }
}

/** Most task ids one range may expand to: more is not a range qstat printed. */
const MAX_TASKS = 10_000_000

/**
 * The task ids of a `qstat` ja-task-ID field: `4`, `1-4:1`, `2-10:2`, or a comma-separated list
 * of those (`3,4`, `1,5-7:1`), in order; `undefined` for anything else (an empty field: not an
 * array job).
 *
 * @since 0.1.0
 * @category parsing
 */
export const expandTaskIds = (text: string): ReadonlyArray<number> | undefined => {
  const out: Array<number> = []
  for (const part of text.split(",")) {
    const m = /^(\d{1,10})(?:-(\d{1,10})(?::(\d{1,10}))?)?$/.exec(part)
    if (m === null) return undefined
    const first = Number(m[1])
    const last = m[2] === undefined ? first : Number(m[2])
    const step = m[3] === undefined ? 1 : Number(m[3])
    if (step < 1 || last < first || out.length + (last - first) / step >= MAX_TASKS) {
      return undefined
    }
    for (let t = first; t <= last; t += step) out.push(t)
  }
  return out
}
