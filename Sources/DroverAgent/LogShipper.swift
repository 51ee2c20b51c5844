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
            position = await ship(lease, path: path, from: offset)
            if done { break }
        }
        return position
    }

    /// Uploads what the file at `path` holds from `offset` on; returns the new position.
    func ship(_ lease: LeaseView, path: String, from offset: Int64) async -> Position {
        guard let handle = FileHandle(forReadingAtPath: path) else { return .at(offset) }
        defer { try? handle.close() }
        let secrets = (lease.secretEnv ?? []).compactMap { lease.env[$0] }
        var position = offset
        while true {
            do {
                try handle.seek(toOffset: UInt64(position))
                guard let data = try handle.read(upToCount: Self.chunkBytes), !data.isEmpty else { return .at(position) }
                try await link.uploadLog(attempt: lease.attemptId, offset: position, data: Self.mask(Array(data), secrets: secrets))
                position += Int64(data.count)
            } catch let error where error.coordinatorStatus == 409 || error.coordinatorStatus == 403 {
                return .leaseGone
            } catch {
                logger.warning("cannot ship output; will retry", metadata: ["attempt.id": "\(lease.attemptId)", "error": "\(error)"])
                return .at(position)
            }
        }
    }

    /// Replaces every occurrence of a secret value by `*` of the same length, so offsets of
    /// the shipped output stay those of the file. (A secret split across two chunks is not caught.)
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
