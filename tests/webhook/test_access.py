"""What a flow's author must be allowed to do (zenflow.webhook.access), derived from the object.

Aspects: every JobFlow needs create on jobs.batch in its namespace; resource templates add create
on persistentvolumeclaims / configmaps; each distinct ServiceAccount a step or finally template
names (serviceAccountName or the deprecated serviceAccount) needs impersonate on it or create on
its token, with params substituted; a name known only at run time is a field-named problem; each
distinct Secret a notification reads its URL from needs get on it; a CronJobFlow also needs
create on jobflows and is read from its template; garbage never raises.
"""

from __future__ import annotations

from typing import Any

import pytest

from zenflow.webhook.access import Permission, Requirement, required_access

NS = "team-a"


def job_step(name: str, sa: str | None = None, field: str = "serviceAccountName") -> dict[str, Any]:
    pod: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if sa is not None:
        pod[field] = sa
    return {"name": name, "template": {"spec": {"template": {"spec": pod}}}}


def jobflow(*steps: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"kind": "JobFlow", "metadata": {"name": "f"}, "spec": {"steps": list(steps), **spec}}


def described(requirements: tuple[Requirement, ...]) -> list[str]:
    return [r.describe() for r in requirements]


def test_a_plain_flow_needs_create_jobs() -> None:
    plan = required_access("JobFlow", NS, jobflow({"name": "a", "run": {"image": "busybox"}}))
    assert plan.namespace == NS
    assert described(plan.requirements) == ["create jobs.batch"]
    assert plan.requirements[0].any_of == (Permission("create", "jobs", NS, group="batch"),)
    assert plan.problems == ()


def test_resource_templates_need_their_kinds() -> None:
    templates = {
        "volumeClaimTemplates": [{"metadata": {"name": "data"}}],
        "configMapTemplates": [{"metadata": {"name": "cfg"}}],
    }
    plan = required_access("JobFlow", NS, jobflow(job_step("a"), resourceTemplates=templates))
    assert described(plan.requirements) == [
        "create jobs.batch",
        "create persistentvolumeclaims",
        "create configmaps",
    ]


def test_each_named_service_account_once_with_both_alternatives() -> None:
    flow = jobflow(
        job_step("a", "builder"), job_step("b", "builder"), job_step("c", "old", "serviceAccount")
    )
    flow["spec"]["finally"] = [job_step("z", "cleaner")]
    plan = required_access("JobFlow", NS, flow)
    assert described(plan.requirements)[1:] == [
        'impersonate serviceaccounts "builder" or create serviceaccounts/token "builder"',
        'impersonate serviceaccounts "old" or create serviceaccounts/token "old"',
        'impersonate serviceaccounts "cleaner" or create serviceaccounts/token "cleaner"',
    ]
    assert "spec.finally[0].template.spec.template.spec.serviceAccountName" in (
        plan.requirements[3].why
    )


def test_each_notification_secret_needs_get() -> None:
    def hook(name: str, secret: str, sink: str = "webhook") -> dict[str, Any]:
        ref = {"secretKeyRef": {"name": secret, "key": "url"}}
        return {"name": name, "events": ["Failed"], sink: {"urlFrom": ref}}

    notes = [hook("a", "hooks"), hook("b", "hooks"), hook("c", "chat", "slack")]
    plan = required_access("JobFlow", NS, jobflow(job_step("a"), notifications=notes))
    assert described(plan.requirements) == [
        "create jobs.batch",
        'get secrets "hooks"',
        'get secrets "chat"',
    ]
    assert plan.requirements[1].any_of == (Permission("get", "secrets", NS, name="hooks"),)
    assert "spec.notifications[2].slack.urlFrom.secretKeyRef" in plan.requirements[2].why
    cron = {
        "kind": "CronJobFlow",
        "spec": {"jobFlowTemplate": {"spec": {"steps": [], "notifications": notes[:1]}}},
    }
    cron_plan = required_access("CronJobFlow", NS, cron)
    assert 'get secrets "hooks"' in described(cron_plan.requirements)
    assert "spec.jobFlowTemplate.spec.notifications[0]" in cron_plan.requirements[-1].why


def test_params_are_substituted_in_service_account_names() -> None:
    flow = jobflow(
        job_step("a", "{{ params.sa }}-{{params.env}}"),
        params=[{"name": "sa", "default": "deployer"}, {"name": "env", "value": "prod"}],
    )
    plan = required_access("JobFlow", NS, flow)
    assert plan.problems == ()
    assert plan.requirements[1].any_of[0].name == "deployer-prod"


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        pytest.param("{{ steps.a.outputs.sa }}", "{{ steps.a.outputs.sa }}", id="output"),
        pytest.param("{{ matrix.sa }}", "{{ matrix.sa }}", id="matrix"),
        pytest.param("{{ params.missing }}", "{{ params.missing }}", id="unknown-param"),
    ],
)
def test_run_time_service_account_names_are_problems(name: str, needle: str) -> None:
    plan = required_access("JobFlow", NS, jobflow(job_step("a"), job_step("b", name)))
    (problem,) = plan.problems
    assert problem.startswith("spec.steps[1].template.spec.template.spec.serviceAccountName: ")
    assert needle in problem
    assert "known only when the flow runs" in problem


def test_cronjobflow_needs_create_jobflows_and_reads_its_template() -> None:
    cron = {
        "kind": "CronJobFlow",
        "spec": {
            "schedule": "* * * * *",
            "jobFlowTemplate": {"spec": {"steps": [job_step("a", "nightly")]}},
        },
    }
    plan = required_access("CronJobFlow", NS, cron)
    assert described(plan.requirements) == [
        "create jobflows.workflow.zen.io",
        "create jobs.batch",
        'impersonate serviceaccounts "nightly" or create serviceaccounts/token "nightly"',
    ]
    assert plan.requirements[2].why.startswith(
        "spec.jobFlowTemplate.spec.steps[0].template.spec.template.spec.serviceAccountName"
    )


@pytest.mark.parametrize(
    "obj",
    [
        pytest.param({}, id="empty"),
        pytest.param({"spec": []}, id="spec-list"),
        pytest.param({"spec": {"steps": [1, None, {"template": []}]}}, id="junk-steps"),
        pytest.param({"spec": {"params": [{"name": 3}], "steps": "x"}}, id="junk-params"),
    ],
)
def test_garbage_never_raises(obj: dict[str, Any]) -> None:
    assert described(required_access("JobFlow", NS, obj).requirements) == ["create jobs.batch"]
