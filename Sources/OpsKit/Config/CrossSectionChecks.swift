// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Yams

/// The rules between sections of one environment: what the driver or the strategy refuses in,
/// or needs from, the other sections. Each section's own rules stay with its reader. These run
/// as soon as the sections they compare are read (`ConfigSchema.environment`), so a file with
/// several mistakes is told about them in the order its sections are read.
extension ConfigSchema {
    /// After run, compose and swarm: `run:` keys and a `build:` section a swarm service has no
    /// place for are refused, never ignored.
    func checkDriverFits(_ environment: EnvironmentConfig, _ map: MappingReader) throws(OpsError) {
        guard environment.driver == .swarm else { return }
        let at = map.value("run") ?? map.node
        if !environment.run.ports.isEmpty {
            throw reader.error(at: at, path: map.keyPath("run.ports"), "driver swarm publishes ports through swarm.publish (mode=host,target=3000,published=3000): remove run.ports")
        }
        if !environment.run.args.isEmpty {
            throw reader.error(at: at, path: map.keyPath("run.args"), "run.args are `docker run` arguments; driver swarm has none: remove run.args (swarm.* holds the service settings)")
        }
        if map.value("build") != nil {
            throw reader.error(at: map.value("build"), path: map.keyPath("build"),
                               "build: builds on this host's engine, which Swarm's nodes cannot use: push the image to a registry (run.pull: true) or load it on every node")
        }
    }

    /// After strategy, proxy and canary, last of all: a strategy that moves traffic needs a proxy,
    /// the docker driver and slots that publish the ports; canary also needs the proxy's access log.
    func checkStrategyFits(_ environment: EnvironmentConfig, _ map: MappingReader) throws(OpsError) {
        try checkProxyStrategy(environment, map)
        try checkCanaryLog(environment, map)
    }

    /// A strategy that moves traffic through a proxy needs one, and a runtime that can run two releases side by side.
    func checkProxyStrategy(_ environment: EnvironmentConfig, _ map: MappingReader) throws(OpsError) {
        let strategy = environment.strategy
        let at = map.value("strategy") ?? map.node
        guard strategy.needsProxy else { return }
        guard environment.proxy != nil else {
            throw reader.error(at: at, path: map.keyPath("strategy"),
                               "strategy \(strategy.rawValue) needs a proxy: section (kind: nginx, upstream_file, upstream_name, url, slots, port_env)")
        }
        guard environment.driver == .docker else {
            throw reader.error(at: at, path: map.keyPath("strategy"),
                               "strategy \(strategy.rawValue) runs two releases side by side on the docker driver; driver \(environment.driver.rawValue) cannot (use stop-start)")
        }
        guard environment.run.ports.isEmpty else {
            throw reader.error(at: map.value("run"), path: map.keyPath("run.ports"),
                               "strategy \(strategy.rawValue) publishes each slot's port itself (proxy.container_port); remove run.ports")
        }
    }

    /// Canary needs the proxy's access log; a `canary:` section elsewhere is kept but unused.
    func checkCanaryLog(_ environment: EnvironmentConfig, _ map: MappingReader) throws(OpsError) {
        guard environment.strategy == .canary, let proxy = environment.proxy else { return }
        if environment.canary?.sticky == .cookie, let log = proxy.accessLog, log.contains("$") {
            throw reader.error(at: map.value("proxy"), path: map.keyPath("proxy.access_log"),
                               "sticky: cookie has nginx write this log itself, and nginx would read the $ in \"\(log)\" as a variable: use a path without $")
        }
        guard proxy.accessLog != nil else {
            let proxyMap = map.value("proxy")
            throw reader.error(at: proxyMap, path: map.keyPath("proxy.access_log"),
                               "strategy canary judges the new release from nginx's access log: set proxy.access_log to the file written with log_format opsctl_canary '$upstream_addr $status $request_time'")
        }
    }
}
