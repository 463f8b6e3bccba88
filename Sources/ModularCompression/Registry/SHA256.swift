import Foundation

/// SHA-256 (FIPS 180-4), in pure Swift: the registry's checksums and teacher
/// fingerprints. Feed bytes with ``update(_:)-(UnsafeRawBufferPointer)`` as
/// often as needed, then call ``finalize()`` once.
///
/// ```swift
/// var hasher = SHA256()
/// hasher.update(Array("abc".utf8))
/// let hex = SHA256.hex(hasher.finalize())  // "ba7816bf…"
/// let fileHex = try SHA256.hexDigest(ofFile: url)  // streams in chunks
/// ```
public struct SHA256: Sendable {
  /// The running hash value H0…H7.
  private var state: [UInt32] = [
    0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19,
  ]
  /// Bytes waiting for a whole 64-byte block.
  private var pending: [UInt8] = []
  /// Message length so far, in bytes.
  private var byteCount: UInt64 = 0

  /// A hasher with nothing fed yet.
  public init() { pending.reserveCapacity(64) }

  /// Feeds `bytes`.
  public mutating func update(_ bytes: UnsafeRawBufferPointer) {
    guard var next = bytes.baseAddress, bytes.count > 0 else { return }
    var remaining = bytes.count
    byteCount &+= UInt64(remaining)
    if !pending.isEmpty {
      let take = min(64 - pending.count, remaining)
      pending.append(contentsOf: UnsafeRawBufferPointer(start: next, count: take))
      next += take
      remaining -= take
      guard pending.count == 64 else { return }
      pending.withUnsafeBytes { compress($0.baseAddress!) }
      pending.removeAll(keepingCapacity: true)
    }
    while remaining >= 64 {
      compress(next)
      next += 64
      remaining -= 64
    }
    if remaining > 0 { pending.append(contentsOf: UnsafeRawBufferPointer(start: next, count: remaining)) }
  }

  /// Feeds `bytes`.
  public mutating func update(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { update($0) }
  }

  /// Feeds the bytes of `data`.
  public mutating func update(_ data: Data) {
    data.withUnsafeBytes { update($0) }
  }

  /// Pads the message and returns the 32-byte digest. The hasher is spent afterwards.
  public mutating func finalize() -> [UInt8] {
    let bitLength = byteCount &* 8
    var tail: [UInt8] = [0x80]
    // Pad with zeros until 8 bytes short of a block boundary, then the length.
    let used = (pending.count + 1) % 64
    tail += [UInt8](repeating: 0, count: used <= 56 ? 56 - used : 120 - used)
    tail += (0..<8).map { UInt8(truncatingIfNeeded: bitLength >> (56 - 8 * UInt64($0))) }
    let savedCount = byteCount
    tail.withUnsafeBytes { update($0) }
    byteCount = savedCount
    precondition(pending.isEmpty, "padding ends on a block boundary")
    return state.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (24 - 8 * UInt32($0))) } }
  }

  /// The digest of `data`.
  public static func hash(_ data: Data) -> [UInt8] {
    var hasher = SHA256()
    hasher.update(data)
    return hasher.finalize()
  }

  /// Lower-case hexadecimal of a digest (64 characters for SHA-256).
  public static func hex(_ digest: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    text.reserveCapacity(digest.count * 2)
    for byte in digest {
      text.append(digits[Int(byte >> 4)])
      text.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: text, as: UTF8.self)
  }

  /// The hex digest of `data`.
  public static func hexDigest(of data: Data) -> String { hex(hash(data)) }

  /// The hex digest of the file at `url`, read in chunks of `chunkSize` bytes
  /// so that a file of any size needs little memory.
  public static func hexDigest(ofFile url: URL, chunkSize: Int = 1 << 20) throws -> String {
    let handle: FileHandle
    do { handle = try FileHandle(forReadingFrom: url) } catch {
      throw SHA256FileError(path: url.path, reason: "cannot be opened (\(error.localizedDescription))")
    }
    defer { try? handle.close() }
    var hasher = SHA256()
    while true {
      let chunk: Data
      do { chunk = try handle.read(upToCount: chunkSize) ?? Data() } catch {
        throw SHA256FileError(path: url.path, reason: "cannot be read (\(error.localizedDescription))")
      }
      if chunk.isEmpty { break }
      hasher.update(chunk)
    }
    return hex(hasher.finalize())
  }

  /// One 64-byte block into the state (FIPS 180-4 §6.2.2). Works on
  /// unchecked buffers: this loop is the whole cost of hashing a teacher.
  private mutating func compress(_ block: UnsafeRawPointer) {
    withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
      for t in 0..<16 {
        w[t] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: 4 * t, as: UInt32.self))
      }
      for t in 16..<64 {
        let s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
        let s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
        w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
      }
      SHA256.roundConstants.withUnsafeBufferPointer { k in
        state.withUnsafeMutableBufferPointer { state in
          var a = state[0], b = state[1], c = state[2], d = state[3]
          var e = state[4], f = state[5], g = state[6], h = state[7]
          for t in 0..<64 {
            let sum1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
            let choice = (e & f) ^ (~e & g)
            let t1 = h &+ sum1 &+ choice &+ k[t] &+ w[t]
            let sum0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
            let majority = (a & b) ^ (a & c) ^ (b & c)
            (h, g, f, e) = (g, f, e, d &+ t1)
            (d, c, b, a) = (c, b, a, t1 &+ sum0 &+ majority)
          }
          state[0] &+= a
          state[1] &+= b
          state[2] &+= c
          state[3] &+= d
          state[4] &+= e
          state[5] &+= f
          state[6] &+= g
          state[7] &+= h
        }
      }
    }
  }

  /// The first 32 bits of the fractional parts of the cube roots of the first 64 primes.
  private static let roundConstants: [UInt32] = [
    0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
    0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
    0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
    0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
    0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
    0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
    0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
    0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
  ]
}

/// Rotates right by `n` bits (`ROTR^n` of FIPS 180-4).
@inline(__always) private func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }

/// A file whose digest cannot be computed.
public struct SHA256FileError: LocalizedError, CustomStringConvertible, Equatable {
  public let path: String
  public let reason: String
  public var description: String { "'\(path)' \(reason)" }
  public var errorDescription: String? { description }
}
