import DroverCore
import Foundation
import Testing

@Suite struct ValueTests {
    @Test func identifiersParseFromText() {
        #expect(JobID("42") == JobID(42) && JobID("0") == nil && JobID("-1") == nil && JobID("x") == nil)
        #expect(NodeID("n3") == NodeID(3) && NodeID("3") == NodeID(3) && NodeID("n") == nil && NodeID("n0") == nil)
        #expect(NodeID(7).description == "n7" && JobID(7).description == "7")
        #expect(TaskRef(job: JobID(12), index: 3).description == "12/3")
        #expect(AttemptID(1) < AttemptID(2))
    }

    @Test func resourcesArithmeticAndFit() {
        let a = Resources(millicores: 1500, memoryBytes: GiB, gpus: 1)
        let b = Resources(millicores: 500, memoryBytes: GiB, gpus: 0)
        #expect(a + b == Resources(millicores: 2000, memoryBytes: 2 * GiB, gpus: 1))
        #expect(a - b == Resources(millicores: 1000, memoryBytes: 0, gpus: 1))
        #expect(b.fits(in: a) && !a.fits(in: b) && a.fits(in: a) && Resources.zero.fits(in: b))
        #expect(!Resources(millicores: 1, memoryBytes: 0, gpus: 2).fits(in: a), "every component must fit")
        #expect(a.description == "cpu 1.5, memory 1GiB, gpu 1")
    }

    @Test(arguments: [("zone", true), ("gpu.model", true), ("kubernetes.io/arch", true), ("a_b-c", true),
                      ("", false), ("has space", false), ("zöne", false), (String(repeating: "k", count: 64), false)])
    func labelKeys(key: String, valid: Bool) {
        #expect(Labels.isValidKey(key) == valid)
    }

    @Test func stateNames() {
        #expect(AttemptState.timedOut.rawValue == "timed_out")
        #expect(JobState.allCases.filter(\.isTerminal) == [.succeeded, .failed, .cancelled])
        #expect(NodeState.allCases.filter(\.acceptsLeases) == [.ready])
        #expect(!AttemptState.running.isTerminal && AttemptState.lost.isTerminal)
    }

    @Test func specsRoundTripThroughTheirStorageForm() throws {
        let spec = makeSpec(kind: .batch, tasks: 7, gpus: 1, priority: 4, constraints: ["zone!=us"],
                            retry: RetryPolicy(maxAttempts: 2, nonRetryableExitCodes: [2, 3]), maxFailedTasks: 1)
        let data = try JSONEncoder().encode(spec)
        #expect(try JSONDecoder().decode(JobSpec.self, from: data) == spec)
        #expect(try JSONDecoder().decode(JobID.self, from: JSONEncoder().encode(JobID(99))) == JobID(99))
    }
}
