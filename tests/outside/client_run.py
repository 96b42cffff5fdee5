"""Drives every operation of tokend through a client generated from its OpenAPI document (§9).

Usage: client_run.py BINARY [DATABASE_URL], run by a Python whose environment has
openapi-python-client installed. Schemathesis proves the server keeps to the document; this
proves the document is good enough for a client nobody here wrote: openapi-python-client builds
one from `openapi/openapi.json` without a warning, and that client calls every operation with
the credential the operation needs and parses every answer, problems included, into its typed
models. The run fails when the generator warns (it skips what it cannot build), an operation of
the document is left uncalled, a status is not the expected one or not in the document, the
client cannot parse an answer (reported with its raw body), or tokend logs an ERROR.
"""

import contextlib
import datetime
import importlib
import json
import os
import pkgutil
import secrets
import subprocess
import sys
import tempfile

import harness

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCUMENT = os.path.join(REPO, "openapi", "openapi.json")
PACKAGE = "tokend_client"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
UNKNOWN_ID = "01932b6e-7d1c-7a4e-9f3b-000000000000"


def generate(directory):
    """Builds the client package in DIRECTORY and imports it; exits when the generator warns."""
    config = os.path.join(directory, "generator.json")
    with open(config, "w") as file:
        # No formatter runs afterwards: a missing ruff would otherwise be a warning.
        json.dump({"post_hooks": []}, file)
    generator = os.path.join(os.path.dirname(sys.executable), "openapi-python-client")
    done = subprocess.run(
        [generator, "generate", "--path", DOCUMENT, "--output-path",
         os.path.join(directory, PACKAGE), "--meta", "none", "--config", config,
         "--fail-on-warning"],
        capture_output=True, text=True, check=False,
    )
    print(done.stdout.strip())
    if done.stderr.strip():
        print(done.stderr.strip())
    if done.returncode != 0:
        sys.exit("client: openapi-python-client did not build the whole client (see above)")
    sys.path.insert(0, directory)
    return importlib.import_module(PACKAGE)


def declared_responses():
    """operationId -> {status: [media types of its body]} for every operation of the document."""
    with open(DOCUMENT) as file:
        document = json.load(file)
    shared = document.get("components", {}).get("responses", {})

    def media_types(response):
        if "$ref" in response:
            response = shared[response["$ref"].rsplit("/", 1)[1]]
        return list(response.get("content", {}))

    return {
        operation["operationId"]: {
            status: media_types(response) for status, response in operation["responses"].items()
        }
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in METHODS
    }


def operation_modules(package):
    """operationId -> the generated module with its `sync_detailed`, or why it does not import."""
    api = importlib.import_module(package.__name__ + ".api")
    modules = {}
    for _, name, is_package in pkgutil.walk_packages(api.__path__, api.__name__ + "."):
        if not is_package:
            try:
                modules[name.rsplit(".", 1)[1]] = importlib.import_module(name)
            except Exception as error:  # generated code that does not load is a finding
                modules[name.rsplit(".", 1)[1]] = error
    return modules


def undeclared(value, where="body"):
    """Properties of a parsed answer its schema does not declare (kept only as untyped extras)."""
    if isinstance(value, list):
        return [found for i, item in enumerate(value)
                for found in undeclared(item, f"{where}[{i}]")]
    fields = getattr(type(value), "__attrs_attrs__", ())
    declared = [field.name for field in fields if field.name != "additional_properties"]
    if not declared:
        return []
    extras = getattr(value, "additional_properties", {})
    found = [f"{where}.{key} is not in the schema" for key in extras]
    for name in declared:
        found += undeclared(getattr(value, name), f"{where}.{name}")
    return found


class Failed(Exception):
    """A check failed: it is recorded, and the scenario it happened in stops."""


class Run:
    """Calls operations through the generated client, checks each answer and keeps the failures."""

    def __init__(self, package, base):
        self.models = importlib.import_module(package.__name__ + ".models")
        self.package = package
        self.base = base
        self.declared = declared_responses()
        self.modules = operation_modules(package)
        self.called = set()
        self.covered = set()
        self.failures = []
        self.seen = None

    def client(self, token=None, headers=None):
        """A generated client sending TOKEN as its bearer (none: anonymous), plus HEADERS."""
        common = {
            "base_url": self.base,
            "headers": headers or {},
            "timeout": 30,
            "httpx_args": {"event_hooks": {"response": [self.keep]}},
        }
        if token is None:
            return self.package.Client(**common)
        return self.package.AuthenticatedClient(token=token, **common)

    def keep(self, response):
        """Keeps the raw answer, to show its body when the client cannot parse it."""
        self.seen = response

    def call(self, operation, client, status, model, **arguments):
        """Calls OPERATION and checks its answer: STATUS, declared in the document, and a body
        parsed into MODEL when the document declares one (MODEL None: no body). Returns the
        parsed body."""
        self.called.add(operation)
        module = self.modules.get(operation)
        if module is None:
            self.fail(operation, None, "the generated client has no function for it")
        if isinstance(module, Exception):
            self.fail(operation, None, f"the generated module does not import: {module!r}")
        self.seen = None
        try:
            response = module.sync_detailed(client=client, **arguments)
        except Exception as error:  # a generated parser that raises is a finding, not a crash
            self.fail(operation, self.seen, f"the client raised {error!r}")
        problems = self.check(operation, response, status, model)
        if problems:
            self.fail(operation, self.seen, "; ".join(problems))
        self.covered.add(operation)
        print(f"ok  {operation} {response.status_code.value}")
        return response.parsed

    def problem(self, operation, client, status, code, **arguments):
        """Calls OPERATION expecting a problem+json answer with STATUS and CODE; returns it."""
        problem = self.call(operation, client, status, self.models.Problem, **arguments)
        self.expect(problem.code == code, operation, f"code {problem.code!r}, expected {code!r}")
        return problem

    def check(self, operation, response, status, model):
        """What is wrong with an answer, as sentences (none when it is right)."""
        got = response.status_code.value
        if got != status:
            return [f"expected status {status}"]
        declared = self.declared[operation]
        if str(got) not in declared:
            return [f"status {got} is not in the document"]
        media_types = declared[str(got)]
        sent = response.headers.get("content-type", "").split(";")[0].strip()
        if not media_types:
            return [f"the document declares no body, got {sent}"] if response.content else []
        problems = []
        if sent not in media_types:
            problems.append(f"content type {sent!r} is not the declared {media_types}")
        if response.parsed is None:
            problems.append(f"the document declares a {media_types} body, the client parsed none")
        elif model is None or not isinstance(response.parsed, model):
            expected = model.__name__ if model else "no body"
            problems.append(f"parsed as {type(response.parsed).__name__}, expected {expected}")
        else:
            problems += undeclared(response.parsed)
        return problems

    def expect(self, condition, operation, message):
        """A check on a parsed answer's content."""
        if not condition:
            self.fail(operation, self.seen, message)

    def fail(self, operation, response, message):
        """Records a failure with the raw answer, if there was one, and stops the scenario."""
        status = response.status_code if response is not None else "-"
        self.failures.append(f"{operation} {status}: {message}")
        print(f"FAIL {operation} {status}: {message}")
        if response is not None:
            print(f"     body: {response.content[:1000].decode(errors='replace')}")
        raise Failed()

    @contextlib.contextmanager
    def guard(self):
        """Lets the calls after a failed one go on."""
        try:
            yield
        except Failed:
            pass


class Callers:
    """The seeded server's credentials, each in a generated client."""

    def __init__(self, run, fixtures):
        self.fixtures = fixtures
        self.unique = secrets.token_hex(3)
        self.anonymous = run.client()
        self.session = run.client(fixtures.session)
        self.service = run.client(fixtures.service)
        self.personal = run.client(fixtures.token)
        # The generated client sends one bearer; the gateway's own credential (scheme `gateway`,
        # header Tokend-Gateway) rides along as a header of the client.
        self.gateway = run.client(fixtures.token, {"Tokend-Gateway": f"Bearer {fixtures.service}"})


def operations(run, c):
    """The unauthenticated operation endpoints."""
    m = run.models
    for operation, model in (("home", str), ("healthz", m.HealthStatus),
                             ("metrics_endpoint", str), ("readyz", m.HealthStatus)):
        with run.guard():
            run.call(operation, c.anonymous, 200, model)


def directory(run, c):
    """Directory sync creates, updates, reads and deletes an organization of its own."""
    m = run.models
    org, user, project = f"globex-{c.unique}", f"grace-{c.unique}", "web"
    person = m.UserInput(email="grace@example.com", email_verified=True)
    run.call("put_user", c.service, 201, m.User, id=user, body=person)
    run.call("put_user", c.service, 200, m.User, id=user, body=person)
    run.call("get_user", c.service, 200, m.User, id=user)
    run.call("put_organization", c.service, 201, m.Organization, id=org,
             body=m.OrganizationInput(name="Globex", api_tokens_enabled=True))
    run.call("get_organization", c.service, 200, m.Organization, id=org)
    run.call("put_membership", c.service, 201, m.Membership, id=org, user_id=user,
             body=m.MembershipInput(role=m.Role.MEMBER))
    run.call("get_membership", c.service, 200, m.Membership, id=org, user_id=user)
    run.call("put_project", c.service, 201, m.Project, id=org, project_id=project,
             body=m.ProjectInput(name="Web"))
    run.call("get_project", c.service, 200, m.Project, id=org, project_id=project)
    run.call("delete_project", c.service, 204, None, id=org, project_id=project)
    run.call("delete_membership", c.service, 204, None, id=org, user_id=user)
    run.call("delete_user", c.service, 204, None, id=user)
    run.call("delete_organization", c.service, 204, None, id=org)


def tokens(run, c):
    """A personal token's life: created, listed, read, changed, copied, regenerated, revoked."""
    m, org = run.models, c.fixtures.org
    run.call("list_scopes", c.session, 200, m.ScopeCatalogResponse)
    run.call("session_profile", c.session, 200, m.Profile)
    name = f"client-{c.unique}"
    created = run.call("create_token", c.session, 201, m.CreatedToken,
                       body=m.CreateToken(kind=m.TokenKind.PERSONAL, name=name, scopes=["read"],
                                          organization_ids=[org]))
    run.expect(created.token.startswith("tolp_"), "create_token", "the value is not a tolp_ one")
    page = run.call("list_tokens", c.session, 200, m.PageTokenResource, q=name)
    run.expect([item.id for item in page.items] == [created.id], "list_tokens",
               f"expected only {created.id}")
    run.call("get_token", c.session, 200, m.TokenResource, id=created.id)
    run.call("update_token", c.session, 200, m.TokenResource, id=created.id,
             body=m.UpdateToken(description="made by the generated client"))
    run.call("token_usage", c.session, 200, m.Usage, id=created.id)
    run.call("organization_tokens", c.session, 200, m.PageTokenResource, org_id=org)
    copy = run.call("duplicate_token", c.session, 201, m.CreatedToken, id=created.id,
                    body=m.DuplicateToken(name=name + " (copy)"))
    run.call("regenerate_token", c.session, 200, m.CreatedToken, id=copy.id,
             body=m.RegenerateToken())
    run.call("revoke_token", c.session, 200, m.TokenResource, id=copy.id,
             body=m.RevokeToken(reason="the generated client revokes it"))
    run.call("delete_token", c.session, 204, None, id=copy.id)


def bulk(run, c):
    """Bulk revocation and deletion answer one result per id, unknown ids included."""
    m = run.models
    ids = [harness.token(c.fixtures, f"bulk-{c.unique}-{i}") for i in range(2)]
    revoked = run.call("bulk_revoke", c.session, 200, m.BulkResults,
                       body=m.BulkRevoke(ids=[ids[0], UNKNOWN_ID], reason="bulk"))
    outcomes = [str(result.result) for result in revoked.results]
    run.expect(outcomes == ["revoked", "not_found"], "bulk_revoke", f"results {outcomes}")
    deleted = run.call("bulk_delete", c.session, 200, m.BulkResults, body=m.BulkDelete(ids=ids))
    outcomes = [str(result.result) for result in deleted.results]
    run.expect(outcomes == ["deleted", "deleted"], "bulk_delete", f"results {outcomes}")


def organization_authorizations(run, c):
    """A personal token gains, SSO-authorizes and loses a second organization of its owner."""
    m, f = run.models, c.fixtures
    org = f"initech-{c.unique}"
    directory_path = f"/v1/directory/organizations/{org}"
    harness.expect(harness.call(f.server.base, "PUT", directory_path, f.service,
                                {"name": "Initech", "sso_enforced": True}), 201)
    harness.expect(harness.call(f.server.base, "PUT", f"{directory_path}/members/{f.user}",
                                f.service, {"role": "member"}), 201)
    token_id = harness.token(f, f"orgs-{c.unique}")
    sso_session = run.client(f.server.cli("dev-session", "--user", f.user, "--sso-org", org))
    run.call("add_organization", c.session, 200, m.TokenResource, id=token_id, org_id=org)
    authorized = run.call("sso_authorize", sso_session, 200, m.TokenResource, id=token_id,
                          org_id=org)
    run.expect(any(a.organization_id == org for a in authorized.sso_authorizations),
               "sso_authorize", f"no SSO authorization for {org}")
    run.call("remove_organization", c.session, 204, None, id=token_id, org_id=org)


def introspection(run, c):
    """What services and gateways ask, what a token says of itself, and self-revocation."""
    m, f = run.models, c.fixtures
    answer = run.call("introspect", c.service, 200, m.Introspection,
                      body=m.IntrospectRequest(token=f.token, organization_id=f.org))
    run.expect(answer.active is True and answer.token_id == f.token_id, "introspect",
               "the fixture token is not active")
    run.call("forward_auth", c.gateway, 200, None, organization_id=f.org)
    run.expect(run.seen.headers.get("tokend-token-id") == f.token_id, "forward_auth",
               "no Tokend-Token-Id header naming the token")
    me = run.call("me", c.personal, 200, m.Me)
    run.expect(me.token.id == f.token_id, "me", "not the fixture token")
    doomed = harness.created_token(f, f"self-revoke-{c.unique}")["token"]
    run.call("revoke", run.client(doomed), 200, None, body=m.RevocationRequest(token=doomed))
    answer = run.call("introspect", c.service, 200, m.Introspection,
                      body=m.IntrospectRequest(token=doomed))
    run.expect(answer.active is False, "revoke", "the token is still active after revocation")


def service_tokens(run, c):
    """A service token's life through the API."""
    m = run.models
    run.call("list_service_tokens", c.service, 200, m.PageServiceTokenResource)
    created = run.call("create_service_token", c.service, 201, m.CreatedServiceToken,
                       body=m.CreateServiceToken(name=f"client-{c.unique}",
                                                 permissions=[m.Permission.INTROSPECT]))
    run.expect(created.token.startswith("tols_"), "create_service_token",
               "the value is not a tols_ one")
    run.call("get_service_token", c.service, 200, m.ServiceTokenResource, id=created.id)
    run.call("regenerate_service_token", c.service, 200, m.CreatedServiceToken, id=created.id)
    run.call("revoke_service_token", c.service, 200, m.ServiceTokenResource, id=created.id,
             body=m.RevokeToken(reason="the generated client revokes it"))
    run.call("delete_service_token", c.service, 204, None, id=created.id)


def audit(run, c):
    """The changes above are in the audit log."""
    page = run.call("list_audit_events", c.service, 200, run.models.PageAuditEvent, limit=100)
    run.expect(len(page.items) > 0, "list_audit_events", "no events after the changes above")


def problems(run, c):
    """Error answers parse into the generated Problem model with their stable codes."""
    m, f = run.models, c.fixtures
    personal = {"kind": m.TokenKind.PERSONAL, "scopes": ["read"], "organization_ids": [f.org]}
    with run.guard():
        run.problem("get_token", c.session, 404, "not_found", id=UNKNOWN_ID)
    with run.guard():
        run.problem("create_token", c.session, 409, "name_taken",
                    body=m.CreateToken(name="outside", **personal))
    with run.guard():
        yesterday = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
        problem = run.problem("create_token", c.session, 422, "validation_failed",
                              body=m.CreateToken(name=f"expired-{c.unique}",
                                                 expires_at=yesterday, **personal))
        run.expect(isinstance(problem.errors, list) and problem.errors, "create_token",
                   "a 422 without errors[]")
        fields = [error.field for error in problem.errors]
        run.expect("expires_at" in fields, "create_token", f"errors[] names {fields}")
    with run.guard():
        run.problem("get_user", c.session, 403, "forbidden", id=f.user)
    with run.guard():
        run.problem("get_user", run.client("tols_unknown"), 401, "unauthenticated", id=f.user)
    with run.guard():
        run.problem("list_tokens", c.personal, 403, "token_cannot_manage_tokens")


SCENARIOS = [operations, directory, tokens, bulk, organization_authorizations, introspection,
             service_tokens, audit, problems]


def main():
    binary = sys.argv[1]
    database_url = sys.argv[2] if len(sys.argv) > 2 else None
    with tempfile.TemporaryDirectory(prefix="tokend-client-") as directory:
        package = generate(directory)
        server = harness.Server(binary, database_url).start()
        try:
            run = Run(package, server.base)
            callers = Callers(run, harness.Fixtures(server))
            for scenario in SCENARIOS:
                with run.guard():
                    scenario(run, callers)
            errors = server.server_errors()
        finally:
            server.stop()
    missing = sorted(set(run.declared) - run.called)
    covered = len(run.covered & set(run.declared))
    print(f"client: {covered} of {len(run.declared)} operations covered")
    for operation in missing:
        print("not called:", operation)
    for failure in run.failures:
        print("failed:", failure)
    for line in errors[:20]:
        print("server error:", line.strip())
    if missing or run.failures or errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
