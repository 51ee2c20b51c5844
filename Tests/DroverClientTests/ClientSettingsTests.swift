import AsyncHTTPClient
import DroverAPI
import Foundation
import NIOSSL
import Testing
@testable import DroverClient

/// The client commands' settings, by the one resolver: flags > environment > defaults.
@Suite struct ClientSettingsTests {
    @Test func aFlagBeatsTheEnvironmentWhichBeatsTheDefault() throws {
        let environment = ["DROVER_COORDINATOR": "http://env.internal:7070", "DROVER_TOKEN": "from-env"]
        let configuration = try ClientConfiguration.resolve(flags: ["token": "from-flag"], environment: environment)
        #expect(configuration.token == "from-flag")                         // flag
        #expect(configuration.coordinatorURL == "http://env.internal:7070") // environment
        #expect(configuration.caCertificate == nil)                         // default
        #expect(try ClientConfiguration.resolve(flags: [:], environment: [:]).coordinatorURL == "http://127.0.0.1:7070")
    }

    @Test func theContractsNamesAreTheSettingsNames() {
        // DESIGN.md: --coordinator (DROVER_COORDINATOR), --token (DROVER_TOKEN), --ca-cert (DROVER_CA_CERT), --ca-pin (DROVER_CA_PIN).
        #expect(ClientConfiguration.settings.map { "\($0.flag)=\($0.environment)" }
                == ["coordinator=DROVER_COORDINATOR", "token=DROVER_TOKEN", "ca-cert=DROVER_CA_CERT", "ca-pin=DROVER_CA_PIN"])
    }

    @Test func aBadValueNamesWhereItCameFrom() {
        #expect(throws: ConfigurationError("DROVER_COORDINATOR: '127.0.0.1:7070' has no scheme; did you mean http://127.0.0.1:7070? (https:// for a coordinator beyond loopback)")) {
            try ClientConfiguration.resolve(flags: [:], environment: ["DROVER_COORDINATOR": "127.0.0.1:7070"])
        }
        #expect(throws: ConfigurationError("--team is not a client setting")) {
            try ClientConfiguration.resolve(flags: ["team": "ml"], environment: [:])
        }
    }

    static let pin = "sha256:" + String(repeating: "0f", count: 32)

    @Test func aPinIsReadAndNeedsAnHTTPSCoordinatorAndNoCAFile() throws {
        let pinned = try ClientConfiguration.resolve(flags: ["coordinator": "https://c.internal:7070"], environment: ["DROVER_CA_PIN": Self.pin])
        #expect(pinned.caPin?.description == Self.pin)
        #expect(throws: ConfigurationError("--ca-pin: 'abc' is not a CA pin: write sha256: and the 64 hex digits the coordinator prints at start")) {
            try ClientConfiguration.resolve(flags: ["ca-pin": "abc"], environment: [:])
        }
        #expect(throws: ConfigurationError("--ca-pin \(Self.pin) needs an https:// coordinator URL, got http://127.0.0.1:7070; the coordinator prints the URL to use at start")) {
            try ClientConfiguration.resolve(flags: ["ca-pin": Self.pin], environment: [:])
        }
        #expect(throws: ConfigurationError("give --ca-pin or --ca-cert, not both: the pin already says which CA to trust")) {
            try ClientConfiguration.resolve(flags: ["coordinator": "https://c.internal:7070", "ca-pin": Self.pin, "ca-cert": "/ca.pem"], environment: [:])
        }
    }

    @Test func theReadmeListsEverySettingInOneTable() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains(ClientConfiguration.settingsTable),
                "README.md's client settings table is out of date; paste ClientConfiguration.settingsTable:\n\(ClientConfiguration.settingsTable)")
    }
}

/// Transport failures become errors that say what to do.
@Suite struct TransportErrorTests {
    @Test func aCertificateForAnotherHostNamesTheFlagsThatTrustOne() {
        let error = DroverClientError(transportError: NIOSSLExtraError.failedToValidateHostname, url: "https://10.0.0.5:7070")
        #expect(error.isTrustFailure)
        #expect(error.description.contains("does not name the host of https://10.0.0.5:7070") && error.description.contains("pass --ca-pin"))
    }

    @Test func aClosedConnectionOnPlainHTTPSuggestsHTTPS() {
        let error = DroverClientError(transportError: HTTPClientError.remoteConnectionClosed, url: "http://10.0.0.5:7070")
        #expect(!error.isTrustFailure)
        #expect(error.description.contains("use an https:// URL"))
        #expect(!DroverClientError(transportError: HTTPClientError.remoteConnectionClosed, url: "https://10.0.0.5:7070").description.contains("use an https://"))
    }
}
