/**
 * @internal Reading OpenSSH private keys without ssh2: the key type, and the re-encoding of an
 * unencrypted ECDSA key as SEC1 PEM with a fixed-length private scalar.
 *
 * OpenSSH stores the ECDSA scalar as an mpint, which gains a leading zero byte when its high bit
 * is set; ssh2 copies it into a SEC1 key as it is, and Deno's crypto refuses a 33-byte scalar
 * for P-256 ("invalid SEC1 private key"), so about half of all ECDSA keys could not sign. Handing
 * ssh2 a SEC1 PEM with the scalar padded or trimmed to the curve's size fixes it.
 */

class Reader {
  at = 0
  constructor(readonly bytes: Uint8Array) {}
  get done(): boolean {
    return this.at >= this.bytes.length
  }
  uint32(): number | undefined {
    if (this.at + 4 > this.bytes.length) return undefined
    const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.at, 4).getUint32(0)
    this.at += 4
    return v
  }
  string(): Uint8Array | undefined {
    const n = this.uint32()
    if (n === undefined || this.at + n > this.bytes.length) return undefined
    const s = this.bytes.subarray(this.at, this.at + n)
    this.at += n
    return s
  }
}

const text = (
  b: Uint8Array | undefined,
) => (b === undefined ? undefined : new TextDecoder().decode(b))

/** @internal The decoded body of an OpenSSH private key file, or undefined. */
const openssh = (pem: string): Uint8Array | undefined => {
  const m = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/
    .exec(pem)
  if (m === null) return undefined
  try {
    const bytes = Uint8Array.from(atob(m[1]!.replace(/\s+/g, "")), (c) => c.charCodeAt(0))
    return text(bytes.subarray(0, 15)) === "openssh-key-v1\0" ? bytes.subarray(15) : undefined
  } catch {
    return undefined
  }
}

/** @internal The key type of a private key file, read without decrypting it. */
export const privateKeyType = (pem: string): string | undefined => {
  if (/-----BEGIN EC PRIVATE KEY-----/.test(pem)) return "ecdsa"
  if (/-----BEGIN RSA PRIVATE KEY-----/.test(pem)) return "ssh-rsa"
  if (/-----BEGIN DSA PRIVATE KEY-----/.test(pem)) return "ssh-dss"
  const body = openssh(pem)
  if (body === undefined) return undefined
  const r = new Reader(body)
  r.string() // cipher
  r.string() // kdf
  r.string() // kdf options
  r.uint32() // number of keys
  const publicKey = r.string()
  return publicKey === undefined ? undefined : text(new Reader(publicKey).string())
}

/** @internal Whether an OpenSSH private key file is encrypted (has a cipher other than none). */
export const isEncrypted = (pem: string): boolean => {
  if (/ENCRYPTED/.test(pem)) return true
  const body = openssh(pem)
  return body !== undefined && text(new Reader(body).string()) !== "none"
}

const curves: Readonly<Record<string, { size: number; oid: ReadonlyArray<number> }>> = {
  nistp256: { size: 32, oid: [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07] },
  nistp384: { size: 48, oid: [0x2b, 0x81, 0x04, 0x00, 0x22] },
  nistp521: { size: 66, oid: [0x2b, 0x81, 0x04, 0x00, 0x23] },
}

const der = (tag: number, content: ReadonlyArray<number> | Uint8Array): Array<number> => {
  const n = content.length
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff]
  return [tag, ...length, ...content]
}

/**
 * @internal An unencrypted OpenSSH ECDSA private key in a form ssh2 can sign with under Deno: the
 * file itself when its scalar already has the curve's size, else the key re-encoded as SEC1 PEM
 * with the scalar padded or trimmed to that size. Undefined for anything else, and for a P-521
 * key that would need re-encoding (Deno's crypto refuses P-521 SEC1 keys).
 */
export const ecdsaForSsh2 = (pem: string): string | undefined => {
  const body = openssh(pem)
  if (body === undefined) return undefined
  const r = new Reader(body)
  if (text(r.string()) !== "none") return undefined // encrypted
  r.string() // kdf
  r.string() // kdf options
  if (r.uint32() !== 1) return undefined
  r.string() // public key
  const priv = r.string()
  if (priv === undefined) return undefined
  const p = new Reader(priv)
  const check1 = p.uint32()
  const check2 = p.uint32()
  if (check1 === undefined || check1 !== check2) return undefined
  const type = text(p.string())
  const curveName = text(p.string())
  const q = p.string()
  const d = p.string()
  const curve = curveName === undefined ? undefined : curves[curveName]
  if (type === undefined || !type.startsWith("ecdsa-") || curve === undefined) return undefined
  if (q === undefined || d === undefined) return undefined
  if (d.length === curve.size) return pem
  if (curveName === "nistp521") return undefined
  let scalar = d
  while (scalar.length > curve.size && scalar[0] === 0) scalar = scalar.subarray(1)
  if (scalar.length > curve.size) return undefined
  const fixed = new Uint8Array(curve.size)
  fixed.set(scalar, curve.size - scalar.length)
  const sec1 = der(0x30, [
    ...der(0x02, [0x01]),
    ...der(0x04, fixed),
    ...der(0xa0, der(0x06, curve.oid)),
    ...der(0xa1, der(0x03, [0x00, ...q])),
  ])
  const b64 = btoa(String.fromCharCode(...sec1)).replace(/.{64}/g, "$&\n").replace(/\n$/, "")
  return `-----BEGIN EC PRIVATE KEY-----\n${b64}\n-----END EC PRIVATE KEY-----\n`
}
