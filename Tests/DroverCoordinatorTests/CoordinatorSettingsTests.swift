import DroverAPI
import DroverCore
import Foundation
import Testing
@testable import DroverCoordinator

/// The one resolver of coordinator settings: flags > environment > file > defaults.
@Suite struct CoordinatorSettingsTests {
    @Test func aFlagBeatsTheEnvironmentWhichBeatsTheFileWhichBeatsTheDefault() throws {
        let file: [String: JSONValue] = ["leaseTtl": .string("40s"), "heartbeatInterval": .string("2s"), "currency": .string("EUR"), "placement": .string("spread")]
        let environment = ["DROVER_LEASE_TTL": "30s", "DROVER_HEARTBEAT_INTERVAL": "3s"]
        let configuration = try CoordinatorConfiguration.resolve(flags: ["lease-ttl": "25s"], environment: environment, file: file, fileName: "c.yaml")
        #expect(configuration.leaseTTL == .seconds(25))        // flag
        #expect(configuration.heartbeatInterval == .seconds(3)) // environment
        #expect(configuration.currency == "EUR")               // file
        #expect(configuration.placement == .spread)             // file
        #expect(configuration.maxPollWait == .seconds(30))      // default
    }

    @Test func everySettingHasAFlagAVariableAndAFileFieldThatAllWork() throws {
        // Given each setting's example value, every one of its three names sets it alike.
        let examples: [String: String] = [
            "listen": "127.0.0.1:7171", "data": "/var/lib/drover", "adminToken": "a", "joinToken": "j", "heartbeatInterval": "2s",
            "leaseTtl": "30s", "maxPollWait": "10s", "maxBodyBytes": "4096", "tlsCert": "/c.pem", "tlsKey": "/k.pem",
            "tlsSans": "drover.internal", "insecureHttp": "true", "defaultQuota": #"{"cpu": 8}"#, "currency": "EUR", "rates": "/r.yaml", "costInterval": "30s", "reserveAfter": "off",
            "placement": "spread", "storeOutageLimit": "1m", "secretKeyFile": "/etc/drover/secret.key",
            "metricsListen": "127.0.0.1:9464", "webhookTimeout": "30s",
        ]
        #expect(Set(examples.keys) == Set(CoordinatorConfiguration.settings.map(\.key)), "a new setting needs an example here")
        for setting in CoordinatorConfiguration.settings {
            let text = try #require(examples[setting.key])
            let fileValue: JSONValue = setting.key == "defaultQuota" ? .object(["cpu": .number(8)]) : .string(text)
            // (TLS needs its certificate and key together: the partner comes as a flag.)
            let partner = ["tlsCert": ["tls-key": "/k.pem"], "tlsKey": ["tls-cert": "/c.pem"]][setting.key] ?? [:]
            let byFlag = try CoordinatorConfiguration.resolve(flags: partner.merging([setting.flag: text]) { $1 }, environment: [:])
            let byEnvironment = try CoordinatorConfiguration.resolve(flags: partner, environment: [setting.environment: text])
            let byFile = try CoordinatorConfiguration.resolve(flags: partner, environment: [:], file: [setting.key: fileValue], fileName: "/etc/c.yaml")
            #expect(String(describing: byFlag) == String(describing: byEnvironment), "\(setting.key)")
            #expect(String(describing: byFlag) == String(describing: byFile), "\(setting.key)")
            #expect(String(describing: byFlag) != String(describing: CoordinatorConfiguration()), "\(setting.key) changed nothing")
        }
    }

    @Test func aBadValueNamesWhereItCameFromAndWhatIsExpected() {
        #expect(throws: ConfigurationError("--lease-ttl: 'soon' is not a duration such as 20s")) {
            try CoordinatorConfiguration.resolve(flags: ["lease-ttl": "soon"], environment: [:])
        }
        #expect(throws: ConfigurationError("DROVER_PLACEMENT: 'random' is not pack, spread or cheapest")) {
            try CoordinatorConfiguration.resolve(flags: [:], environment: ["DROVER_PLACEMENT": "random"])
        }
        #expect(throws: ConfigurationError("c.yaml: currency: 'euro' is not a three-letter ISO 4217 code such as USD or EUR")) {
            try CoordinatorConfiguration.resolve(flags: [:], environment: [:], file: ["currency": .string("euro")], fileName: "c.yaml")
        }
    }

    @Test func anUnknownFileFieldIsRefusedWithTheKnownOnes() throws {
        let error = #expect(throws: ConfigurationError.self) {
            try CoordinatorConfiguration.resolve(flags: [:], environment: [:], file: ["leaseTTL": .string("20s")], fileName: "c.yaml")
        }
        #expect(error?.description.hasPrefix("c.yaml: unknown field 'leaseTTL' (did you mean 'leaseTtl'?); known fields are adminToken, ") == true, "\(String(describing: error))")
    }

    @Test func settingsThatDoNotFitTogetherAreRefusedOnce() {
        #expect(throws: ConfigurationError.self) {
            try CoordinatorConfiguration.resolve(flags: ["lease-ttl": "5s", "heartbeat-interval": "3s"], environment: [:])
        }
        #expect(throws: ConfigurationError.self) { try CoordinatorConfiguration.resolve(flags: ["tls-cert": "/c.pem"], environment: [:]) }
    }

    @Test func aPathInTheFileIsRelativeToTheFile() throws {
        let configuration = try CoordinatorConfiguration.resolve(flags: [:], environment: [:], file: ["rates": .string("rates.yaml")],
                                                                 fileName: "/etc/drover/coordinator.yaml")
        #expect(configuration.ratesFile == "/etc/drover/rates.yaml")
    }

    @Test func theReadmeListsEverySettingInOneTable() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains(CoordinatorConfiguration.settingsTable),
                "README.md's coordinator settings table is out of date; paste CoordinatorConfiguration.settingsTable:\n\(CoordinatorConfiguration.settingsTable)")
    }
}
