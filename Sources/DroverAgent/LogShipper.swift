import DroverCore
import DroverAPI
import Foundation
import Logging

/// Uploads an attempt's output file to the coordinator while the attempt runs: every
/// `interval`, what was written since the last upload, in chunks of at most 1 MiB at the
/// file's offsets (so a resent chunk is recognised), with secrets masked. A failed upload is
/// retried from the same offset at the next turn; a refused one (409/403: the lease is gone)
/// ends the shipping, since the coordinator keeps only output of current leases.
struct LogShipper: Sendable {
    /// Where shipping stands for one attempt.
    enum Position: Sendable, Equatable {
        /// Everything before this offset has been uploaded.
        case at(Int64)
        /// The coordinator refused the output: it no longer holds the lease.
        case leaseGone
    }

    static let chunkBytes = 1 << 20

    let link: any CoordinatorLink
    let clock: any MonotonicClock
    var interval: Duration = .seconds(1)
    let logger: Logger

    /// Ships `lease`'s output at `path` every `interval` until `exited` opens, then once more
    /// for what the process wrote last; returns where it got to. An upload under way is never
    /// cut off by the exit (that would leave a half-sent chunk to resend); cancelling the
    /// calling task (agent shutdown) does cut it off.
    func follow(_ lease: LeaseView, path: String, until exited: Latch) async -> Position {
        var position = Position.at(0)
        while case .at(let offset) = position, !Task.isCancelled {
            let done = await exited.wait(orUntil: clock.now + interval, on: clock)
            position = await ship(lease, path: path, from: offset, final: done)
            if done { break }
        }
        return position
    }

    /// Uploads what the file at `path` holds from `offset` on; returns the new position.
    ///
    /// Secrets are masked across chunk and shipping boundaries: each chunk is masked together
    /// with the bytes before it that a secret could start in, and while the task may still
    /// write (`final` false) the last bytes that could begin a secret are held back until the
    /// next turn, so a secret written in two pieces is never shipped half in clear.
    func ship(_ lease: LeaseView, path: String, from offset: Int64, final: Bool = true) async -> Position {
        guard let handle = TaskFile.openForReading(path) else { return .at(offset) }
        defer { try? handle.close() }
        let secrets = Self.maskedSecrets(of: lease)
        let overlap = Int64(max(0, (secrets.map(\.utf8.count).max() ?? 0) - 1))
        var position = offset
        while true {
            do {
                let start = max(0, position - overlap)
                let wanted = Int(position - start) + Self.chunkBytes + Int(overlap)
                try handle.seek(toOffset: UInt64(start))
                guard let data = try handle.read(upToCount: wanted), data.count > Int(position - start) else { return .at(position) }
                let end = start + Int64(data.count)
                let atEnd = data.count < wanted
                let shipEnd = min(position + Int64(Self.chunkBytes), atEnd && final ? end : end - overlap)
                guard shipEnd > position else { return .at(position) }
                let window = Self.mask(Array(data), secrets: secrets)
                try await link.uploadLog(attempt: lease.attemptId, offset: position,
                                         data: Array(window[Int(position - start)..<Int(shipEnd - start)]))
                position = shipEnd
            } catch let error where error.coordinatorStatus == 409 || error.coordinatorStatus == 403 {
                return .leaseGone
            } catch {
                logger.warning("cannot ship output; will retry", metadata: ["attempt.id": "\(lease.attemptId)", "error": "\(error)"])
                return .at(position)
            }
        }
    }

    /// The secret values of `lease` that are masked: those of 4 bytes or more (shorter ones
    /// would mask ordinary text).
    static func maskedSecrets(of lease: LeaseView) -> [String] {
        (lease.secretEnv ?? []).compactMap { lease.env[$0] }.filter { $0.utf8.count >= 4 }
    }

    /// Masks the secrets in the output file at `path` itself, for a directory that is kept for
    /// inspection: what stays on the agent's disk is what was shipped. Only a regular file is
    /// touched (a link the task put there is not followed); chunks overlap so a secret across
    /// two is masked.
    static func maskInPlace(_ path: String, secrets: [String]) {
        guard !secrets.isEmpty else { return }
        let descriptor = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return }
        let overlap = (secrets.map(\.utf8.count).max() ?? 1) - 1
        var buffer = [UInt8](repeating: 0, count: chunkBytes + overlap)
        var offset: off_t = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, offset) }
            guard count > 0 else { return }
            let masked = mask(Array(buffer[..<count]), secrets: secrets)
            if masked[..<count] != buffer[..<count] {
                _ = masked.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, count, offset) }
            }
            guard count == buffer.count else { return }
            offset += off_t(chunkBytes)
        }
    }

    /// Replaces every occurrence of a secret value by `*` of the same length, so offsets of
    /// the shipped output stay those of the file.
    static func mask(_ bytes: [UInt8], secrets: [String]) -> [UInt8] {
        var output = bytes
        for secret in secrets where secret.utf8.count >= 4 {
            let needle = Array(secret.utf8)
            var index = 0
            while index + needle.count <= output.count {
                if output[index] == needle[0] && Array(output[index..<index + needle.count]) == needle {
                    output.replaceSubrange(index..<index + needle.count, with: repeatElement(UInt8(ascii: "*"), count: needle.count))
                    index += needle.count
                } else {
                    index += 1
                }
            }
        }
        return output
    }
}
