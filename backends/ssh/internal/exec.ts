/**
 * @internal Commands on exec channels: the argv quoted for the remote login shell, channels
 * bounded below sshd's `MaxSessions` (a refused open is retried), and a timeout or interruption
 * that KILLs the remote command.
 */
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
// @ts-types="@types/ssh2"
import type ssh2 from "ssh2"
import type { Auth } from "../../../src/Auth.ts"
import type { LrmsError } from "../../../src/LrmsError.ts"
import { quote } from "../../../src/Shell.ts"
import { signalNumber } from "../../../src/Termination.ts"
import type { ExecOptions, ExecResult } from "../../../src/Transport.ts"
import { type Connection, onConnection, type Pool } from "./connection.ts"
import { fail, reasonOf } from "./errors.ts"

/** How a refused channel open is retried: 10 ms growing to 500 ms, 30 times at most. */
const channelRetry = Schedule.exponential("10 millis").pipe(
  Schedule.either(Schedule.spaced("500 millis")),
  Schedule.intersect(Schedule.recurs(30)),
)

/** The remote shell command for an argv; every word is quoted, nothing is expanded. */
const renderCommand = (argv: ReadonlyArray<string>, options: ExecOptions) => {
  const parts: Array<string> = []
  if (options.cwd !== undefined) {
    parts.push(`cd ${quote(options.cwd)} || exit 126;`)
  }
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) {
      return undefined
    }
    parts.push(`export ${k}=${quote(v)};`)
  }
  parts.push("exec", ...argv.map(quote))
  return parts.join(" ")
}

/**
 * Sends a signal request. ssh2's `channel.signal` does nothing once our side has sent EOF
 * (which every command gets after its stdin), so the request goes through the protocol.
 */
const sendSignal = (ch: ssh2.ClientChannel, name: string): boolean => {
  const internal = ch as unknown as {
    outgoing?: { id: number; state: string }
    _client?: { _protocol?: { signal(id: number, name: string): void } }
  }
  const outgoing = internal.outgoing
  const protocol = internal._client?._protocol
  if (outgoing === undefined || protocol === undefined) {
    return false
  }
  if (outgoing.state !== "open" && outgoing.state !== "eof") {
    return false
  }
  try {
    protocol.signal(outgoing.id, name)
    return true
  } catch {
    return false
  }
}

/**
 * KILLs the remote command, gives sshd a moment to deliver the signal (closing the channel at
 * once can make it drop it), then closes the channel.
 */
const kill = (ch: ssh2.ClientChannel) =>
  Effect.async<void>((done) => {
    const timer = setTimeout(() => {
      ch.close()
      done(Effect.void)
    }, 1000)
    ch.once("close", () => {
      clearTimeout(timer)
      done(Effect.void)
    })
    if (!sendSignal(ch, "KILL")) ch.close()
  })

/** Collects a channel's output and reports its end (or the connection's). */
const collect = (
  host: string,
  command: string,
  ch: ssh2.ClientChannel,
  resume: (effect: Effect.Effect<ExecResult, LrmsError>) => void,
) => {
  const out: Array<Buffer> = []
  const errs: Array<Buffer> = []
  let exit: { code: number | null; signal: string | undefined } | undefined
  ch.on("data", (d: Buffer) => out.push(d))
  ch.stderr.on("data", (d: Buffer) => errs.push(d))
  ch.on("exit", (code: number | null, signal?: string) => {
    exit = { code, signal }
  })
  ch.on("close", () => {
    if (exit === undefined) {
      return resume(Effect.fail(fail(
        "ConnectionLost",
        "exec",
        `the connection to ${host} dropped while ${JSON.stringify(command.slice(0, 80))} ran`,
      )))
    }
    const name = exit.signal?.replace(/^SIG/, "")
    resume(Effect.succeed({
      exitCode: exit.code ?? 128 + (signalNumber(name ?? "") ?? 0),
      signal: name === undefined ? null : `SIG${name}`,
      stdout: Buffer.concat(out).toString("utf8"),
      stderr: Buffer.concat(errs).toString("utf8"),
    }))
  })
}

/** Runs one command on a channel of its own; interrupting it (a timeout) KILLs the command. */
const runChannel = (host: string, conn: Connection, command: string, options: ExecOptions) =>
  onConnection<ExecResult>(conn, (resume) => {
    let channel: ssh2.ClientChannel | undefined
    let finished = false
    let cancelled = false
    conn.client.exec(command, (err, ch) => {
      if (err) {
        finished = true
        const refused = /open failed|Channel open failure/i.test(err.message)
        return resume(Effect.fail(fail(
          refused ? "ConnectionLost" : reasonOf(err),
          "exec",
          `cannot open a channel: ${err.message}`,
          refused ? "channel-refused" : err,
        )))
      }
      channel = ch
      if (cancelled) {
        // interrupted while the channel was opening: the command must not run unwatched
        if (!sendSignal(ch, "KILL")) ch.close()
        setTimeout(() => ch.close(), 1000)
        return
      }
      collect(host, command, ch, (effect) => {
        finished = true
        resume(effect)
      })
      if (options.stdin !== undefined) ch.end(options.stdin)
      else ch.end()
    })
    return Effect.suspend(() => {
      cancelled = true
      const ch = channel
      return finished || ch === undefined || conn.lost !== undefined ? Effect.void : kill(ch)
    })
  })

/** @internal The transport's `exec` over a connection pool. */
export const make = (host: string, pool: Pool) =>
(
  argv: ReadonlyArray<string>,
  options: ExecOptions = {},
): Effect.Effect<ExecResult, LrmsError, Auth> =>
  Effect.suspend(() => {
    if (argv.length === 0 || argv[0] === "") {
      return Effect.fail(fail("InvalidArgument", "exec", "empty command"))
    }
    if (argv.some((a) => a.includes("\0"))) {
      return Effect.fail(fail("InvalidArgument", "exec", "an argument contains a NUL byte"))
    }
    const command = renderCommand(argv, options)
    if (command === undefined) {
      return Effect.fail(
        fail("InvalidArgument", "exec", "an environment variable name is invalid"),
      )
    }
    const run = pool.withConnection((conn) => {
      const attempt = conn.channels.withPermits(1)(runChannel(host, conn, command, options))
      // sshd refuses channels beyond MaxSessions (other clients of the same user count):
      // wait and try again; the retry schedule is built only when it is needed
      return attempt.pipe(
        Effect.catchIf((e) => e.cause === "channel-refused", () =>
          attempt.pipe(Effect.retry({
            schedule: channelRetry,
            while: (e) => e.cause === "channel-refused",
          }))),
      )
    })
    if (options.timeout === undefined) return run
    return run.pipe(Effect.timeoutFail({
      duration: options.timeout,
      onTimeout: () =>
        fail(
          "Timeout",
          "exec",
          `${argv[0]} did not finish within ${String(options.timeout)}; killed`,
        ),
    }))
  })
