import DroverAPI
import DroverCore
import Foundation
import Testing

/// The states, outcomes and verdicts of the wire: their JSON is their raw string.
@Suite struct WireEnumTests {
    /// `value` encoded alone, as JSON text.
    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    /// Every case encodes as its quoted raw string and decodes back to itself.
    static func expectRoundTrips<E: WireEnum & Equatable>(_ type: E.Type) throws {
        for value in E.allCases {
            #expect(try json(value) == "\"\(value.rawValue)\"")
            #expect(try decode(E.self, "\"\(value.rawValue)\"") == value)
            #expect("\(value)" == value.rawValue, "interpolation prints the wire string")
        }
    }

    @Test func everyDomainEnumRoundTripsAsItsRawString() throws {
        try Self.expectRoundTrips(JobKind.self)
        try Self.expectRoundTrips(JobState.self)
        try Self.expectRoundTrips(TaskState.self)
        try Self.expectRoundTrips(AttemptState.self)
        try Self.expectRoundTrips(NodeState.self)
        try Self.expectRoundTrips(TaskIsolation.self)
        try Self.expectRoundTrips(TokenRole.self)
        try Self.expectRoundTrips(BudgetPeriod.self)
        try Self.expectRoundTrips(BudgetAlert.Level.self)
        try Self.expectRoundTrips(CostResource.self)
        #expect(try Self.json(AttemptState.timedOut) == #""timed_out""#)
    }

    @Test func verdictsRoundTripAndAnUnknownOneIsKept() throws {
        // Given the verdicts this version knows, each is its raw string on the wire;
        for verdict in ReportVerdict.known {
            #expect(try Self.json(verdict) == "\"\(verdict.rawValue)\"")
            #expect(try Self.decode(ReportVerdict.self, "\"\(verdict.rawValue)\"") == verdict)
        }
        #expect(ReportVerdict.known.map(\.rawValue) == ["accepted", "duplicate", "stale", "forbidden", "invalid"])
        // one from a newer coordinator decodes as `.other`, is not committed and is written back unchanged.
        let later = try Self.decode(ReportResultView.self, #"{"attemptId":"7","status":"deferred"}"#)
        #expect(later == ReportResultView(attemptId: "7", status: .other("deferred"), detail: nil))
        #expect(!later.status.isCommitted)
        #expect(try Self.json(later.status) == #""deferred""#)
    }

    @Test func anUnknownOutcomeFailsNamingTheFieldAndTheAllowedValues() throws {
        // Given a batch whose second report has an outcome no version knows,
        let body = #"{"reports":[{"attemptId":"1","outcome":"succeeded"},{"attemptId":"2","outcome":"exploded"}]}"#
        // decoding fails at that field, listing what an agent may report.
        do {
            _ = try Self.decode(ReportBatch.self, body)
            Issue.record("expected a decoding error")
        } catch DecodingError.dataCorrupted(let context) {
            #expect(context.codingPath.map(\.stringValue).suffix(1) == ["outcome"])
            #expect(context.codingPath.first?.stringValue == "reports" && context.codingPath.dropFirst().first?.intValue == 1)
            #expect(context.debugDescription == #""exploded" is not one of succeeded, failed, timed_out, cancelled, preempted"#)
        }
    }

    @Test func outcomesTheCoordinatorDecidesStillDecodeInAReport() throws {
        // `running` and `lost` are refused per report by the coordinator, not by decoding.
        #expect(try Self.decode(ReportView.self, #"{"attemptId":"1","outcome":"lost"}"#).outcome == .lost)
        #expect(try Self.decode(ReportView.self, #"{"attemptId":"1","outcome":"running"}"#).outcome == .running)
    }

    @Test func anUnknownStateFailsNamingTheAllowedValues() throws {
        do {
            _ = try Self.decode(TokenCreateRequest.self, #"{"team":"ml","role":"boss"}"#)
            Issue.record("expected a decoding error")
        } catch DecodingError.dataCorrupted(let context) {
            #expect(context.codingPath.map(\.stringValue) == ["role"])
            #expect(context.debugDescription == #""boss" is not one of admin, submitter, reader, join"#)
        }
    }

    @Test func aReportEncodesAsBefore() throws {
        // The hand-written decoder changes nothing on the way out: the same fields, the outcome's raw string.
        let report = ReportView(attemptId: "9", outcome: .timedOut, exitCode: nil, signal: 15, wallMs: 1500, peakRssBytes: nil, progress: nil, reason: "limit")
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(report), as: UTF8.self)
        #expect(text == #"{"attemptId":"9","outcome":"timed_out","reason":"limit","signal":15,"wallMs":1500}"#)
        #expect(try Self.decode(ReportView.self, text) == report)
    }

    /// The package root, from this file's path.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func theOpenAPIDocumentListsTheSameValues() throws {
        // Given docs/openapi.json's schemas,
        let data = try Data(contentsOf: Self.root.appendingPathComponent("docs/openapi.json"))
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: Any])
        func values(_ schema: String, _ property: String) -> [String]? {
            (((schemas[schema] as? [String: Any])?["properties"] as? [String: Any])?[property] as? [String: Any])?["enum"] as? [String]
        }
        // each enum property lists exactly the values the types write.
        #expect(values("Job", "kind") == JobKind.allCases.map(\.rawValue))
        #expect(values("Job", "state") == JobState.allCases.map(\.rawValue))
        #expect(values("Attempt", "outcome") == AttemptState.allCases.map(\.rawValue))
        #expect(values("Node", "state") == NodeState.allCases.map(\.rawValue))
        #expect(values("Node", "taskIsolation") == TaskIsolation.allCases.map(\.rawValue))
        #expect(values("RegisterRequest", "taskIsolation") == TaskIsolation.allCases.map(\.rawValue))
        #expect(values("Report", "outcome") == ReportView.reportable.map(\.rawValue))
        #expect(values("ReportResult", "status") == ReportVerdict.known.map(\.rawValue))
        #expect(values("Token", "role") == TokenRole.allCases.map(\.rawValue))
        #expect(values("TokenCreateRequest", "role") == ["submitter", "reader"])
        #expect(values("Budget", "period") == BudgetPeriod.allCases.map(\.rawValue))
        #expect(values("Alert", "level") == BudgetAlert.Level.allCases.map(\.rawValue))
        #expect(values("LedgerEntry", "resource") == CostResource.allCases.map(\.rawValue))
    }
}
