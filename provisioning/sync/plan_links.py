"""The plan's contact links: each link the feed lists made or updated, and, from a full snapshot of links,
each held link of a contact it lists that it no longer names archived. A link with an end whose row the feed
reader left out is skipped, and a link held with such an end is kept as it is."""

from provisioning.sync.feeds import ParsedFeed
from provisioning.sync.plan_item import Outcome, plan_item
from provisioning.sync.state import SchoolState


def plan_links(plan, feed: ParsedFeed, state: SchoolState, codes_now):
    mode = feed.modes.get("link", "absent")
    if mode == "absent":
        return
    contacts, students = codes_now.get("contact", {}), codes_now.get("student", {})
    wanted = set()
    links_held, counts = state.links, plan.counts
    rejected = {pt: feed.rejected.get(pt, set()) for pt in ("contact", "student")}
    members = state.members
    kept = {members[(pt, code)]["id"] for pt, codes in rejected.items() for code in codes if (pt, code) in members}
    for link in feed.links:
        left_out = next((pt for pt in ("contact", "student") if link[f"{pt}_code"] in rejected[pt]), None)
        if left_out:
            reason = f"The {left_out}'s row in the MIS export has errors: the link is left as it is."
            plan.add(plan_item(Outcome.SKIPPED, "contact", link["contact_code"], entity="link",
                               after={"student_code": link["student_code"]}, reason=reason))  # fmt: skip
            continue
        contact_id = link.get("contact_id") or contacts.get(link["contact_code"])
        student_id = link.get("student_id") or students.get(link["student_code"])
        code = link["contact_code"]
        if contact_id is None or student_id is None:
            missing = "contact" if contact_id is None else "student"
            plan.add(
                plan_item(
                    Outcome.SKIPPED,
                    "contact",
                    code,
                    entity="link",
                    after={"student_code": link["student_code"]},
                    reason=f"The {missing} has no account here, so the link is not made.",
                )
            )
            continue
        key = (contact_id, student_id)
        wanted.add(key)
        held = links_held.get(key)
        if (
            held is not None
            and held["relationship"] == link["relationship"]
            and held["portal_access"] == link["portal_access"]
        ):
            counts["link_unchanged"] += 1
            continue
        values = {"relationship": link["relationship"], "portal_access": link["portal_access"]}
        ends = {
            "contact_membership_id": contact_id,
            "student_membership_id": student_id,
            "student_code": link["student_code"],
        }
        if held is None:
            plan.add(plan_item(Outcome.CREATE, "contact", code, entity="link", after={**values, **ends}))
        else:
            plan.add(
                plan_item(
                    Outcome.UPDATE,
                    "contact",
                    code,
                    entity="link",
                    membership_id=held["id"],
                    before={k: held[k] for k in values},
                    after={**values, **ends},
                )
            )
    if mode == "bulk":
        touched_contacts = set(contacts.values())
        for (contact_id, student_id), held in state.links.items():
            if contact_id in kept or student_id in kept:
                continue
            if (contact_id, student_id) not in wanted and (state.links_prefiltered or contact_id in touched_contacts):
                plan.add(
                    plan_item(
                        Outcome.ARCHIVE,
                        "contact",
                        "",
                        entity="link",
                        membership_id=held["id"],
                        before={"contact_membership_id": contact_id, "student_membership_id": student_id},
                        reason="The link is no longer in the MIS export.",
                    )
                )
