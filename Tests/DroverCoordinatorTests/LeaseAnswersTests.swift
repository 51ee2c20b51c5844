import DroverAPI
import DroverCore
import Foundation
import Testing
@testable import DroverCoordinator

/// The hand-assembled lease answers decode to exactly what `JSONEncoder` would have sent.
@Suite struct LeaseAnswersTests {
    func lease(_ attempt: Int64, job: Int64, index: Int, gpus: [Int], spec: JobSpec) -> Lease {
        Lease(attempt: AttemptRecord(id: AttemptID(attempt), task: TaskRef(job: JobID(job), index: index), number: 2, node: NodeID(1),
                                     allocation: spec.resources, gpuIndices: gpus, startedAt: Timestamp(milliseconds: 5)),
              spec: spec)
    }

    var awkward: JobSpec {
        var spec = JobSpec(name: "naïve \"quoted\" \\ back/slash\ttab 🚀", team: "ml", kind: .batch, taskCount: 3,
                           command: ["/bin/sh", "-c", "echo \"$X\"\n\u{1}"], environment: ["X": "ü\u{7f}", "SECRET": "s3cr3t", "": "empty key"],
                           resources: Resources(millicores: 1500, memoryBytes: 3 << 30, gpus: 2), timeoutMilliseconds: 60_000)
        spec.secretKeys = ["SECRET"]
        return spec
    }

    @Test func pollAnswersDecodeToTheSameLeaseViews() throws {
        let answers = LeaseAnswers()
        let plain = JobSpec(name: "plain", team: "cv", command: ["true"])
        let leases = [lease(11, job: 4, index: 0, gpus: [0, 3], spec: awkward), lease(12, job: 4, index: 2, gpus: [1, 2], spec: awkward),
                      lease(13, job: 5, index: 0, gpus: [], spec: plain)]
        for round in 0..<2 { // the second round answers from the cached job parts
            let body = try answers.pollBody(leases, cancel: [AttemptID(7), AttemptID(9)])
            let decoded = try JSONDecoder().decode(PollResponse.self, from: Data(body))
            #expect(decoded == PollResponse(leases: leases.map(Routes.view(of:)), cancel: ["7", "9"]), "round \(round)")
        }
        let empty = try JSONDecoder().decode(PollResponse.self, from: Data(try answers.pollBody([], cancel: [])))
        #expect(empty == PollResponse(leases: [], cancel: []))
    }

    @Test func reportAnswersCarryLeasesOnlyWhenAskedFor() throws {
        let answers = LeaseAnswers()
        let results = [ReportResultView(attemptId: "11", status: .accepted, detail: nil),
                       ReportResultView(attemptId: "x", status: .invalid, detail: "attemptId must be a \"number\"")]
        let leases = [lease(21, job: 8, index: 1, gpus: [0, 1], spec: awkward)]
        let withLeases = try JSONDecoder().decode(ReportResults.self, from: Data(try answers.reportBody(results, leases: leases)))
        #expect(withLeases == ReportResults(results: results, leases: leases.map(Routes.view(of:))))
        let without = try JSONDecoder().decode(ReportResults.self, from: Data(try answers.reportBody(results, leases: nil)))
        #expect(without == ReportResults(results: results, leases: nil))
        let none = try JSONDecoder().decode(ReportResults.self, from: Data(try answers.reportBody(results, leases: [])))
        #expect(none.leases == [])
    }
}
