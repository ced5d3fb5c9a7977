//! The one route list (`sigil_core::api::ROUTES`) against what the server
//! really does: every route of it is routed for exactly its methods, is
//! documented in `/openapi.json` with those methods and nothing else is,
//! and is counted in `/metrics` under its own label, never `unmatched`.

use std::collections::{BTreeMap, BTreeSet};

use sigil_core::api::{ROUTES, paths};

use crate::support::TestServer;

const NOW: u64 = 1_795_000_000_000;

/// The methods each route is tried with.
const TRIED: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];

#[tokio::test]
async fn router_openapi_and_metrics_follow_the_route_list() {
    let server = TestServer::start("routes", NOW).await;

    // /openapi.json documents exactly the listed paths and methods.
    let doc = server.get(paths::OPENAPI).await.json();
    let documented: BTreeMap<String, BTreeSet<String>> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .unwrap()
                .keys()
                .filter(|key| TRIED.iter().any(|m| m.eq_ignore_ascii_case(key)))
                .map(|key| key.to_ascii_uppercase())
                .collect();
            (path.clone(), methods)
        })
        .collect();
    let listed: BTreeMap<String, BTreeSet<String>> = ROUTES
        .iter()
        .map(|route| {
            let methods = route.methods.iter().map(|m| (*m).to_owned()).collect();
            (route.path.to_owned(), methods)
        })
        .collect();
    assert_eq!(documented, listed, "/openapi.json against ROUTES");

    // The router answers each listed method, and 405 with an Allow of the
    // listed methods to every other. A path with a capture (the wallet's
    // assets) is tried at a name the wallet page really links to.
    let page = server.get(paths::WALLET).await.text;
    let asset = page
        .split('"')
        .find(|part| part.starts_with("/wallet/"))
        .expect("the wallet page links to an asset")
        .to_owned();
    let client = reqwest::Client::new();
    for route in ROUTES {
        let path = if route.path.contains('{') {
            asset.as_str()
        } else {
            route.path
        };
        for method in TRIED {
            let mut request = client.request(method.parse().unwrap(), server.url(path));
            if method != "GET" {
                request = request
                    .header("content-type", "application/json")
                    .body("{}");
            }
            let answer = request.send().await.unwrap();
            let status = answer.status().as_u16();
            if route.methods.contains(&method) {
                assert!(
                    status != 404 && status != 405,
                    "{method} {}: {status}",
                    route.path
                );
            } else {
                assert_eq!(status, 405, "{method} {}", route.path);
                let allow = answer.headers()["allow"].to_str().unwrap().to_owned();
                for listed in route.methods {
                    assert!(allow.contains(listed), "{}: Allow {allow}", route.path);
                }
            }
        }
    }
    // A path of no route is 404.
    assert_eq!(server.get("/api/auth/not-a-route").await.status, 404);

    // /metrics counted every request under its route's label: each listed
    // label appears with each method tried, and only the 404 is unmatched.
    let metrics = server.get(paths::METRICS).await.text;
    let mut labels = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("sigil_http_requests_total{"))
    {
        let field = |name: &str| {
            let start = line.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            line[start..].split('"').next().unwrap().to_owned()
        };
        labels.insert(field("route"));
        seen.insert((field("route"), field("method")));
    }
    let mut expected: BTreeSet<String> = ROUTES.iter().map(|r| r.label.to_owned()).collect();
    expected.insert("unmatched".to_owned());
    assert_eq!(labels, expected, "/metrics route labels against ROUTES");
    for route in ROUTES {
        for method in TRIED {
            assert!(
                seen.contains(&(route.label.to_owned(), method.to_owned())),
                "{method} {} not counted under its label:\n{metrics}",
                route.path
            );
        }
    }
    assert!(
        metrics.lines().any(|l| l
            == "sigil_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1"),
        "{metrics}"
    );
}
