/**
 * @internal The connections of a transport: one per credential, opened on first use (with
 * retries when the network fails), shared by every operation, and dropped when ssh2 reports
 * them closed; the operations in flight on a dropped connection fail with `ConnectionLost`.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
// @ts-types="@types/ssh2"
import type ssh2 from "ssh2"
import { Auth, type AuthShape, type Credential, credentialKey } from "../../../src/Auth.ts"
import type { LrmsError } from "../../../src/LrmsError.ts"
import { fail } from "./errors.ts"
import * as Login from "./login.ts"
import type { Settings } from "./settings.ts"

/** @internal One open connection and what shares it. */
export interface Connection {
  readonly client: ssh2.Client
  readonly hops: ReadonlyArray<ssh2.Client>
  /** The exec channels it may still open (below sshd's `MaxSessions`, the SFTP session aside). */
  readonly channels: Effect.Semaphore
  sftp: Promise<ssh2.SFTPWrapper> | undefined
  closed: boolean
  /** Why the connection dropped, once it has. */
  lost: LrmsError | undefined
  /** The operations in flight: each fails with `ConnectionLost` when the connection drops. */
  readonly waiters: Set<(error: LrmsError) => void>
}

/**
 * @internal `Effect.async` for one ssh2 callback on a connection. Some callbacks never fire once
 * the connection is gone (a pending SFTP read, a fastGet), so the operation is registered with
 * the connection and fails with `ConnectionLost` when it drops first.
 */
export const onConnection = <A>(
  conn: Connection,
  register: (finish: (effect: Effect.Effect<A, LrmsError>) => void) => Effect.Effect<void> | void,
): Effect.Effect<A, LrmsError> =>
  Effect.async<A, LrmsError>((resume) => {
    if (conn.lost !== undefined) return resume(Effect.fail(conn.lost))
    let done = false
    const onLost = (error: LrmsError) => finish(Effect.fail(error))
    const finish = (effect: Effect.Effect<A, LrmsError>) => {
      if (done) return
      done = true
      conn.waiters.delete(onLost)
      resume(effect)
    }
    conn.waiters.add(onLost)
    let cancel: Effect.Effect<void> | void = undefined
    try {
      cancel = register(finish)
    } catch (e) {
      // ssh2 throws ("Not connected") when the connection went away under us
      const lost = /not connected|no response|closed/i.test(String(e))
      const message = e instanceof Error ? e.message : String(e)
      finish(Effect.fail(fail(lost ? "ConnectionLost" : "CommandFailed", "ssh", message, e)))
    }
    return Effect.suspend(() => {
      done = true
      conn.waiters.delete(onLost)
      return cancel ?? Effect.void
    })
  })

/** @internal The connections of one transport. */
export interface Pool {
  /** Runs an operation on the caller's connection (opened on first use). */
  readonly withConnection: <A>(
    f: (conn: Connection) => Effect.Effect<A, LrmsError>,
  ) => Effect.Effect<A, LrmsError, Auth>
  /** Ends every connection; the next operation of a credential opens its own again. */
  readonly closeAll: Effect.Effect<void>
}

/** Three attempts, 200 ms then 400 ms apart, when the network (not the credential) failed. */
const connectWithRetry = (settings: Settings, credential: Credential) =>
  Login.open(settings, credential).pipe(
    Effect.retry({
      schedule: Schedule.exponential("200 millis").pipe(Schedule.intersect(Schedule.recurs(2))),
      while: (e) => e.reason === "ConnectionLost" || e.reason === "Timeout",
    }),
  )

/** Opens a connection for a credential and registers it; it unregisters itself when dropped. */
const establish = (
  settings: Settings,
  connections: Map<string, Connection>,
  key: string,
  credential: Credential,
) =>
  Effect.gen(function* () {
    const { client, hops } = yield* connectWithRetry(settings, credential)
    const conn: Connection = {
      client,
      hops,
      channels: yield* Effect.makeSemaphore(settings.config.maxChannels - 1),
      sftp: undefined,
      closed: false,
      lost: undefined,
      waiters: new Set(),
    }
    const drop = (why: string) => {
      conn.closed = true
      if (connections.get(key) === conn) connections.delete(key)
      if (conn.lost !== undefined) return
      conn.lost = fail("ConnectionLost", "connection", `${settings.config.host}: ${why}`)
      for (const waiter of [...conn.waiters]) waiter(conn.lost)
    }
    client.on("close", () => drop("the connection closed"))
    client.on("error", (e: Error) => drop(e.message))
    for (const hop of hops) hop.on("close", () => drop("a jump host closed the connection"))
    connections.set(key, conn)
    return conn
  })

/** @internal The connection pool of a transport, closed with the scope. */
export const makePool = (settings: Settings): Effect.Effect<Pool, never, Scope.Scope> =>
  Effect.gen(function* () {
    const layerScope = yield* Effect.scope
    const connections = new Map<string, Connection>()
    const connecting = new Map<string, Deferred.Deferred<Connection, LrmsError>>()
    const closeAll = Effect.sync(() => {
      for (const c of connections.values()) {
        c.closed = true
        c.client.end()
        for (const h of c.hops) h.end()
      }
      connections.clear()
    })
    yield* Effect.addFinalizer(() => closeAll)

    /**
     * The connection for the caller's credential. A new one is opened by a fiber of the layer's
     * scope, which every caller (the first too) only awaits: an interrupted caller cannot leave
     * the others waiting, and the layer's closing stops a connect in progress.
     */
    const connection = (auth: AuthShape): Effect.Effect<Connection, LrmsError> =>
      Effect.suspend(() => {
        const key = credentialKey(auth.credential)
        const existing = connections.get(key)
        if (existing !== undefined && !existing.closed) return Effect.succeed(existing)
        const pending = connecting.get(key)
        if (pending !== undefined) return Deferred.await(pending)
        const deferred = Deferred.unsafeMake<Connection, LrmsError>(FiberId.none)
        connecting.set(key, deferred)
        const settle = <E>(complete: Effect.Effect<boolean, E>) =>
          Effect.sync(() => connecting.delete(key)).pipe(Effect.zipRight(complete))
        const open = establish(settings, connections, key, auth.credential).pipe(
          Effect.exit,
          Effect.flatMap((exit) => settle(Deferred.done(deferred, exit))),
          Effect.onInterrupt(() => settle(Deferred.interrupt(deferred))),
        )
        return Effect.zipRight(Effect.forkIn(open, layerScope), Deferred.await(deferred))
      })

    return {
      withConnection: (f) => Effect.flatMap(Auth, (auth) => Effect.flatMap(connection(auth), f)),
      closeAll,
    }
  })
