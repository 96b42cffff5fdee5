"""Runs Schemathesis over the served OpenAPI document of a seeded tokend (DESIGN §9).

Usage: schemathesis_run.py BINARY [DATABASE_URL]. Every check is on; the run fails on any 5xx,
any response the document does not describe, fewer than MIN_CASES cases, or an ERROR in the
server's log. The operations that take ids get real ones (a destructive operation gets a target
of its own), so the cases reach the handlers.
"""

import os
import re
import subprocess
import sys

import harness

MIN_CASES = 1000
LISTS = ["list_tokens", "organization_tokens", "list_service_tokens", "list_audit_events"]


def operations(fixtures):
    """Real ids per operation id; an operation that destroys its target gets one of its own.
    The service-token operations get theirs from the stateful phase, which follows the links
    from `POST /v1/service-tokens` (a fixed id would override the created one)."""
    f = fixtures
    doomed = {name: harness.token(f, f"doomed-{name}") for name in ("delete", "revoke", "regen")}
    token = {"path.id": f.target_token_id}
    in_org = {"path.id": f.target_token_id, "path.org_id": f.org}
    org = {"path.id": f.org}
    spare_org = {"path.id": f.spare_org}
    return [
        ("get_token", token),
        ("update_token", token),
        ("duplicate_token", token),
        ("token_usage", token),
        ("delete_token", {"path.id": doomed["delete"]}),
        ("revoke_token", {"path.id": doomed["revoke"]}),
        ("regenerate_token", {"path.id": doomed["regen"]}),
        ("add_organization", in_org),
        ("remove_organization", in_org),
        ("sso_authorize", in_org),
        ("organization_tokens", {"path.org_id": f.org}),
        ("get_organization", org),
        ("put_organization", spare_org),
        ("delete_organization", spare_org),
        ("get_membership", {**org, "path.user_id": f.user}),
        ("put_membership", {**org, "path.user_id": f.spare_user}),
        ("delete_membership", {**org, "path.user_id": f.spare_user}),
        ("get_project", {**org, "path.project_id": f.project}),
        ("put_project", {**org, "path.project_id": f.project}),
        ("delete_project", {**spare_org, "path.project_id": f.project}),
        ("get_user", {"path.id": f.user}),
        ("put_user", {"path.id": f.spare_user}),
        ("delete_user", {"path.id": f.spare_user}),
    ]


def config(fixtures, cases_per_operation):
    lines = [
        f"generation.max-examples = {cases_per_operation}",
        "continue-on-failure = true",
        "seed = 20261201",
        # NUL in text is refused by design (DESIGN §9); tests/api/hostile.rs covers it.
        "generation.allow-x00 = false",
        # 422 is the document's answer for rules no schema can state: a date in the future, a
        # name unique per owner, `scopes` or `preset` but not both, a scope in the catalog.
        "[checks.positive_data_acceptance]",
        "expected-statuses = [200, 201, 204, 401, 403, 404, 409, 422]",
        "[auth.openapi.session]",
        f'bearer = "{fixtures.session}"',
        "[auth.openapi.service]",
        f'bearer = "{fixtures.service}"',
        "[auth.openapi.token]",
        f'bearer = "{fixtures.token}"',
        "[auth.openapi.gateway]",
        f'api_key = "Bearer {fixtures.service}"',
    ]
    for operation_id, parameters in operations(fixtures):
        lines += ["[[operations]]", f'include-operation-id = "{operation_id}"']
        lines.append("parameters = " + "{ " + ", ".join(
            f'"{key}" = "{value}"' for key, value in parameters.items()) + " }")
    # A cursor is opaque (DESIGN §5): one this API did not issue is a 400, which no schema can
    # tell apart from one it did.
    for operation_id in LISTS:
        lines += [
            "[[operations]]",
            f'include-operation-id = "{operation_id}"',
            "checks.positive_data_acceptance.expected-statuses = "
            "[200, 400, 401, 403, 404, 409, 422]",
        ]
    return "\n".join(lines) + "\n"


def main():
    binary = sys.argv[1]
    database_url = sys.argv[2] if len(sys.argv) > 2 else None
    cases_per_operation = int(os.environ.get("TOKEND_SCHEMATHESIS_EXAMPLES", "40"))
    server = harness.Server(binary, database_url).start()
    try:
        fixtures = harness.Fixtures(server)
        path = os.path.join(server.dir, "schemathesis.toml")
        with open(path, "w") as file:
            file.write(config(fixtures, cases_per_operation))
        st = os.path.join(os.path.dirname(sys.executable), "schemathesis")
        run = subprocess.run(
            [st, "--config-file", path, "run", server.base + "/openapi.json", "--checks", "all",
             "--no-color", "--report", "junit", "--report-dir", server.dir],
            capture_output=True, text=True, check=False, cwd=server.dir,
        )
        print(run.stdout[-20000:])
        print(run.stderr[-5000:], file=sys.stderr)
        errors = server.server_errors()
    finally:
        server.stop()
    generated = re.search(r"Test cases:\s+(\d+) generated", run.stdout)
    cases = int(generated.group(1)) if generated else 0
    print(f"schemathesis: {cases} cases, exit {run.returncode}, {len(errors)} server error lines")
    for line in errors[:20]:
        print("server error:", line.strip())
    if run.returncode != 0 or cases < MIN_CASES or errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
