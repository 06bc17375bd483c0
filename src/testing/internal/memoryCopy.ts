/**
 * `put` and `get` of `MemoryTransport`: recursive copies between the real local file system and
 * the model file system, with the `get` failures a test injects (a partial write, then a failure,
 * an interruption or a hang).
 *
 * @internal
 * @module
 */
import * as Effect from "effect/Effect"
import { LrmsError, type Reason } from "../../LrmsError.ts"
import type { GetFailure } from "../MemoryTransport.ts"
import { BACKEND, error, type MemoryFs } from "./memoryFs.ts"

const MAX_COPY_DEPTH = 64

/** What `put` and `get` do, and the handles that inject `get` failures. */
export interface Copies {
  /** Copies a local file or directory into the model. */
  readonly put: (local: string, remote: string) => Effect.Effect<void, LrmsError>
  /** Copies a file or directory of the model to the local file system. */
  readonly get: (remote: string, local: string) => Effect.Effect<void, LrmsError>
  /** Makes later `get` calls fail midway. */
  readonly injectGetFailure: (failure: GetFailure) => void
  /** Removes every injected failure. */
  readonly clearFailures: () => void
}

const denoErrorReason = (e: unknown): Reason =>
  e instanceof Deno.errors.NotFound
    ? "NotFound"
    : e instanceof Deno.errors.PermissionDenied
    ? "PermissionDenied"
    : e instanceof Deno.errors.AlreadyExists || e instanceof Deno.errors.IsADirectory ||
        e instanceof Deno.errors.NotADirectory
    ? "InvalidState"
    : "CommandFailed"

const localError = (operation: string, path: string) => (e: unknown) =>
  error(denoErrorReason(e), operation, `${path}: ${e instanceof Error ? e.message : e}`, e)

/** A call to the local file system, its failure an `LrmsError` naming the path. */
const local = <A>(operation: string, path: string, io: () => Promise<A>) =>
  Effect.tryPromise({ try: io, catch: localError(operation, path) })

/**
 * One write to the local file system. It is uninterruptible: a promise cannot be cancelled, and
 * an interrupted `get` must not go on writing after it has returned (the caller's cleanup
 * would run before the write lands and leave a file behind).
 */
const localWrite = <A>(operation: string, path: string, io: () => Promise<A>) =>
  Effect.uninterruptible(local(operation, path, io))

/** A recursive copy that refuses trees deeper than {@linkcode MAX_COPY_DEPTH}. */
const recursiveCopy = (
  operation: "put" | "get",
  step: (
    from: string,
    to: string,
    recur: (from: string, to: string) => Effect.Effect<void, LrmsError>,
  ) => Effect.Effect<void, LrmsError>,
) => {
  const go = (from: string, to: string, depth: number): Effect.Effect<void, LrmsError> =>
    depth > MAX_COPY_DEPTH
      ? Effect.fail(error("InvalidState", operation, `${from}: directory tree too deep`))
      : step(from, to, (f, t) => go(f, t, depth + 1))
  return (from: string, to: string) => Effect.suspend(() => go(from, to, 0))
}

/** `put` and `get` over a model file system. */
export const makeCopies = (fs: MemoryFs, now: () => Date): Copies => {
  let failures: Array<{ failure: GetFailure; remaining: number }> = []

  const takeFailure = (path: string): GetFailure | undefined => {
    const slot = failures.find((f) =>
      f.remaining > 0 && (f.failure.path === undefined || fs.absolute(f.failure.path) === path)
    )
    if (slot === undefined) return undefined
    slot.remaining--
    failures = failures.filter((f) => f.remaining > 0)
    return slot.failure
  }

  const orFail = (e: LrmsError | undefined) => e === undefined ? Effect.void : Effect.fail(e)

  const put = recursiveCopy("put", (from, remote, recur) =>
    Effect.gen(function* () {
      const st = yield* local("put", from, () => Deno.stat(from))
      if (st.isDirectory) {
        yield* orFail(fs.mkdir(remote, true, (st.mode ?? 0o755) & 0o7777, "put"))
        const names = yield* local(
          "put",
          from,
          () => Array.fromAsync(Deno.readDir(from), (e) => e.name),
        )
        for (const name of names) yield* recur(`${from}/${name}`, `${remote}/${name}`)
        return
      }
      const bytes = yield* local("put", from, () => Deno.readFile(from))
      yield* orFail(fs.writeFile(remote, bytes, (st.mode ?? 0o644) & 0o7777, now(), "put"))
    }))

  const get = recursiveCopy("get", (remote, to, recur) =>
    Effect.gen(function* () {
      const at = fs.existing(remote, true, "get")
      if (at instanceof LrmsError) return yield* at
      const node = at.node
      if (node.kind === "Directory") {
        yield* localWrite("get", to, () => Deno.mkdir(to, { recursive: true }))
        for (const name of [...node.children.keys()].sort()) {
          yield* recur(`${at.path}/${name}`, `${to}/${name}`)
        }
        return
      }
      if (node.kind !== "File") return yield* error("InvalidState", "get", `${remote}: not a file`)
      const bytes = node.bytes.slice()
      const failure = takeFailure(fs.absolute(remote))
      const cut = failure === undefined
        ? bytes.length
        : Math.max(0, Math.min(bytes.length, failure.afterBytes ?? 0))
      yield* localWrite(
        "get",
        to,
        () => Deno.writeFile(to, bytes.subarray(0, cut), { mode: node.mode }),
      )
      if (failure === undefined) return
      const mode = failure.mode ?? "fail"
      if (mode === "interrupt") return yield* Effect.interrupt
      if (mode === "hang") return yield* Effect.never
      return yield* new LrmsError({
        reason: "ConnectionLost",
        backend: BACKEND,
        operation: "get",
        description: `${remote}: injected failure after ${cut} of ${bytes.length} bytes`,
      })
    }))

  return {
    put,
    get,
    injectGetFailure: (failure) => {
      failures.push({ failure, remaining: failure.times ?? Number.POSITIVE_INFINITY })
    },
    clearFailures: () => {
      failures = []
    },
  }
}
