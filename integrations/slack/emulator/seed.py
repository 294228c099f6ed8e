"""A small seeded support workspace for the sandbox and the standalone emulator."""

from __future__ import annotations

from ticketbolt.integrations.slack.emulator.app import SlackEmulator


def seed_demo(slack: SlackEmulator) -> dict[str, str]:
    """A small support workspace: an agent, a customer, an external partner, channels and a DM."""
    alice = slack.add_user(
        "alice", real_name="Alice Agent", display_name="Alice", email="alice@ticketbolt.example"
    )
    bob = slack.add_user(
        "bob", real_name="Bob Buyer", display_name="Bob", email="bob@customer.example"
    )
    carol = slack.add_user(
        "carol", real_name="Carol Partner", email="carol@partner.example", team_id="T0PARTNER"
    )
    slack.state.add_team("T0PARTNER", "Partner Co")  # carol's organisation, for `team.info`
    support = slack.add_channel("support", members=[alice.id, bob.id])
    general = slack.add_channel("general", members=[alice.id, bob.id])
    shared = slack.add_channel("ext-partner", members=[alice.id, carol.id], is_ext_shared=True)
    dm = slack.open_dm(bob)
    return {
        "alice": alice.id,
        "bob": bob.id,
        "carol": carol.id,
        "support": support.id,
        "general": general.id,
        "ext-partner": shared.id,
        "dm-bob": dm.id,
    }
