import DroverAPI
import DroverCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// Encodes the answers that carry leases (polls, and reports that take leases): the hottest
/// answers of all, read only by agents.
///
/// Most of a `LeaseView` is the job's (name, team, command, environment, resources, timeout),
/// and a job's spec never changes, so that part is encoded once per job with `JSONEncoder` and
/// kept; each lease adds only its attempt id, task, attempt number and GPUs. Encoding every
/// `LeaseView` in full was the largest single cost of the coordinator's request threads
/// (perf, scheduler benchmark). The result decodes as `PollResponse` / `ReportResults`.
///
/// Leases come here with their secret values opened (``Cluster/openedForAgent(_:of:)``): the
/// cached parts hold them in clear, in memory only, as the agents receive them.
final class LeaseAnswers: Sendable {
    /// The job's part of a lease, encoded as the object members of `LeaseView` (no braces).
    private struct JobPart: Encodable {
        var jobId: String
        var jobName: String
        var team: String
        var taskCount: Int
        var command: [String]
        var env: [String: String]
        var resources: ResourcesView
        var timeoutMs: Int64?
        var secretEnv: [String]?
    }

    private let fragments = Mutex([JobID: [UInt8]]())
    /// Fragments kept at most; past it the cache starts over (jobs come and go).
    private let capacity = 4096

    /// `PollResponse` as JSON.
    func poll(_ leases: [Lease], cancel: [AttemptID]) throws -> Response { Self.response(try pollBody(leases, cancel: cancel)) }

    /// `ReportResults` as JSON; `leases` nil leaves the member out.
    func report(_ results: [ReportResultView], leases: [Lease]?) throws -> Response { Self.response(try reportBody(results, leases: leases)) }

    func pollBody(_ leases: [Lease], cancel: [AttemptID]) throws -> [UInt8] {
        var body: [UInt8] = Array(#"{"cancel":["#.utf8)
        for (position, id) in cancel.enumerated() {
            if position > 0 { body.append(UInt8(ascii: ",")) }
            body += Array("\"\(id.rawValue)\"".utf8)
        }
        body += Array(#"],"leases":"#.utf8)
        try appendLeases(leases, to: &body)
        body.append(UInt8(ascii: "}"))
        return body
    }

    func reportBody(_ results: [ReportResultView], leases: [Lease]?) throws -> [UInt8] {
        var body: [UInt8] = Array(#"{"results":"#.utf8)
        body += try JSONEncoder().encode(results)
        if let leases {
            body += Array(#","leases":"#.utf8)
            try appendLeases(leases, to: &body)
        }
        body.append(UInt8(ascii: "}"))
        return body
    }

    private func appendLeases(_ leases: [Lease], to body: inout [UInt8]) throws {
        body.append(UInt8(ascii: "["))
        for (position, lease) in leases.enumerated() {
            if position > 0 { body.append(UInt8(ascii: ",")) }
            let attempt = lease.attempt
            body += Array(#"{"attemptId":"\#(attempt.id.rawValue)","task":\#(attempt.task.index),"attempt":\#(attempt.number),"gpus":["#.utf8)
            body += Array(attempt.gpuIndices.map(String.init).joined(separator: ",").utf8)
            body += Array("],".utf8)
            body += try fragment(of: attempt.task.job, spec: lease.spec)
            body.append(UInt8(ascii: "}"))
        }
        body.append(UInt8(ascii: "]"))
    }

    /// The job's members of a lease, from the cache or encoded now.
    private func fragment(of job: JobID, spec: JobSpec) throws -> [UInt8] {
        if let cached = fragments.withLock({ $0[job] }) { return cached }
        let part = JobPart(jobId: job.description, jobName: spec.name, team: spec.team, taskCount: spec.taskCount, command: spec.command,
                           env: spec.environment, resources: Cluster.view(of: spec.resources), timeoutMs: spec.timeoutMilliseconds,
                           secretEnv: spec.secretKeys.map { $0.sorted() })
        // An object's members without its braces: `{…}` with both ends cut off.
        let encoded = Array(try JSONEncoder().encode(part).dropFirst().dropLast())
        fragments.withLock { cache in
            if cache.count >= capacity { cache.removeAll(keepingCapacity: true) }
            cache[job] = encoded
        }
        return encoded
    }

    private static func response(_ body: [UInt8]) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
