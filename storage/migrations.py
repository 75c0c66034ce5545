"""Schema changes, applied once each in the order they are registered, by `sqlite_utils.Migrations`.

Add a new `mNNN_what` function at the end; never edit one that has shipped. Databases made before
meetops used `Migrations` recorded their migrations in `_migrations`; `storage.db.migrate` adopts those
records first, so an existing database is never migrated twice.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils import Migrations

migrations = Migrations("meetops")


@migrations()
def m001_rooms_and_audit(db: sqlite_utils.Database) -> None:
    db["rooms"].create(
        {
            "id": str,  # the provider's room id
            "team_id": str,  # Slack team
            "channel_id": str,
            "creator_id": str,
            "name": str,  # as the person typed it
            "friendly_url": str,
            "description": str,
            "privacy": str,
            "room_url": str,
            "message_channel": str,  # the room message, updated in place as things happen
            "message_ts": str,
            "status": str,  # open | live | ended | deleted
            "participants": int,
            "session_id": str,
            "session_started_at": str,
            "session_ended_at": str,
            "ended_by": str,
            "auto_summary": int,
            "created_at": str,
        },
        pk="id",
        not_null={"team_id", "channel_id", "creator_id", "name", "friendly_url", "status", "created_at"},
        defaults={"status": "open", "participants": 0, "auto_summary": 1},
    )
    db["rooms"].create_index(["team_id", "friendly_url"])
    db["rooms"].create_index(["team_id", "name"])
    db["channel_rooms"].create(
        {"team_id": str, "channel_id": str, "room_id": str, "created_at": str},
        pk=("team_id", "channel_id"),
        foreign_keys=[("room_id", "rooms", "id")],
    )
    db["audit_log"].create(
        {"id": int, "at": str, "team_id": str, "user_id": str, "action": str, "room_id": str, "detail": str},
        pk="id",
    )
    db["audit_log"].create_index(["room_id"])


@migrations()
def m002_polls_and_restreams(db: sqlite_utils.Database) -> None:
    # No foreign key to rooms: admins may run polls and streams in rooms meetops did not create.
    db["polls"].create(
        {
            "id": str,  # the provider's poll id
            "room_id": str,
            "team_id": str,
            "question": str,
            "type": str,  # single | multiple | free
            "anonymous": int,
            "options": str,  # JSON list of the option texts, in the order asked
            "channel": str,  # the poll message, updated in place with the results
            "message_ts": str,
            "created_by": str,
            "created_at": str,
        },
        pk="id",
        not_null={"room_id", "team_id", "question", "type", "created_by", "created_at"},
    )
    db["polls"].create_index(["room_id"])
    # One row per room that ever streamed. The stream key is never stored.
    db["restreams"].create(
        {
            "room_id": str,
            "state": str,  # idle | starting | live | stopping
            "destination": str,  # "YouTube", or a custom server's scheme and host only
            "started_by": str,
            "started_at": str,
        },
        pk="room_id",
        not_null={"state"},
        defaults={"state": "idle"},
    )


@migrations()
def m003_summaries_webhooks_digests(db: sqlite_utils.Database) -> None:
    # One row per session whose summary someone (a person or the session_ended webhook) wants.
    # `state` moves pending -> posting -> posted | gave_up | no_transcript; whoever posts first
    # claims the row with a conditional UPDATE, so the summary goes out once per session.
    db["summaries"].create(
        {
            "session_id": str,
            "room_id": str,
            "state": str,
            "post_channel": str,  # where it goes: the room message's channel ...
            "thread_ts": str,  # ... and thread (null when the room has no message)
            "requested_by": str,  # who asked first (null: the webhook armed it)
            "deadline": str,  # ISO, UTC: give up after this
            "next_poll_at": str,  # ISO, UTC: when the armed job runs (re-armed from here at start-up)
            "attempts": int,
            "message_ts": str,  # the posted summary (its first message)
            "permalink": str,
            "excerpt": str,  # a short version for digests
            "created_at": str,
            "updated_at": str,
        },
        pk="session_id",
        not_null={"room_id", "state", "deadline", "created_at", "updated_at"},
        defaults={"attempts": 0},
    )
    db["summaries"].create_index(["state"])
    # A delivery seen twice (same event, same session, same participant/recording) is processed once.
    db["webhook_events"].create(
        {"id": int, "event": str, "session_id": str, "ref": str, "received_at": str},
        pk="id",
        not_null={"event", "session_id", "ref", "received_at"},
        defaults={"ref": ""},
    )
    db["webhook_events"].create_index(["event", "session_id", "ref"], unique=True)
    db["recordings"].create(
        {"id": str, "session_id": str, "room_id": str, "link": str, "message_ts": str, "permalink": str,
         "created_at": str},
        pk="id",
        not_null={"session_id", "room_id", "created_at"},
    )
    db["recordings"].create_index(["session_id"])
    db["digests"].create(
        {
            "team_id": str,
            "channel_id": str,
            "cadence": str,  # daily | weekly
            "weekday": int,  # 0 = Monday, weekly only
            "at_time": str,  # HH:MM in `tz`
            "tz": str,
            "created_by": str,
            "last_covered_until": str,  # ISO, UTC: the next digest covers sessions ending after this
            "next_run": str,  # ISO, UTC
            "created_at": str,
            "updated_at": str,
        },
        pk=("team_id", "channel_id"),
        not_null={"cadence", "at_time", "tz", "next_run", "created_at", "updated_at"},
    )


@migrations()
def m004_providers_sessions_grants_votes(db: sqlite_utils.Database) -> None:
    # Rooms remember their provider; rooms made before there was a choice are Digital Samba's.
    db["rooms"].add_column("provider", str, not_null_default="digitalsamba")
    db["rooms"].add_column("provider_data", str)  # JSON: the provider's own data (never a secret)
    db["rooms"].add_column("name_key", str)  # casefolded name, for lookups in any case
    db["rooms"].add_column("slug_key", str)  # casefolded link name
    for row in db.query("select id, name, friendly_url from rooms"):
        db["rooms"].update(row["id"], {"name_key": row["name"].casefold(), "slug_key": row["friendly_url"].casefold()})
    db["rooms"].create_index(["team_id", "name_key"])
    db["rooms"].create_index(["team_id", "slug_key"])
    # meetops' own log of meetings, fed by webhooks, pollers and its own actions, so digests, /meet live
    # and room messages work the same on every provider.
    db["sessions"].create(
        {
            "id": str,  # "<provider>:<provider's session id>"
            "provider": str,
            "session_id": str,  # the provider's
            "room_id": str,
            "state": str,  # live | ended
            "started_at": str,
            "ended_at": str,
            "participants": int,  # now (live) or in all (ended)
            "recording": str,  # none | recording
            "ended_by": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"provider", "session_id", "room_id", "state", "updated_at"},
        defaults={"participants": 0},
    )
    db["sessions"].create_index(["room_id"])
    db["sessions"].create_index(["ended_at"])
    for row in db.query("select * from rooms where session_id is not null"):
        db["sessions"].insert({
            "id": f"digitalsamba:{row['session_id']}", "provider": "digitalsamba", "session_id": row["session_id"],
            "room_id": row["id"], "state": "live" if row["status"] == "live" else "ended",
            "started_at": row["session_started_at"], "ended_at": row["session_ended_at"],
            "participants": row["participants"] or 0, "ended_by": row["ended_by"],
            "updated_at": row["session_ended_at"] or row["created_at"]}, replace=True)
    # What a provider wants back the next time a person joins a room (a participant id, an invite's
    # expiry): never the link or a token.
    db["join_grants"].create(
        {"room_id": str, "user_id": str, "handle": str, "expires_at": str, "updated_at": str},
        pk=("room_id", "user_id"),
    )
    # Polls that run in Slack (providers without a poll API): one vote per person per option.
    db["polls"].add_column("hosted", str, not_null_default="provider")  # provider | slack
    db["polls"].add_column("closed_at", str)
    db["poll_votes"].create(
        {"poll_id": str, "user_id": str, "option": int, "voted_at": str},
        pk=("poll_id", "user_id", "option"),
    )
    # A destination stored at the provider that the meeting starts itself (not streaming yet).
    db["restreams"].add_column("in_meeting", int, not_null_default=0)
    # Webhook deliveries of any provider, each by its own dedupe key.
    db["provider_events"].create(
        {"provider": str, "dedupe_key": str, "received_at": str},
        pk=("provider", "dedupe_key"),
    )
    db["provider_events"].create_index(["received_at"])


@migrations()
def m005_slack_poll_votes_answers_closer(db: sqlite_utils.Database) -> None:
    # A vote row stays once a person has clicked that option: `active` says whether it counts now, and
    # `voted_at` is when they last clicked it, so a second click a moment later (a double click) counts once.
    db["poll_votes"].add_column("active", int, not_null_default=1)
    # Free-text polls run in Slack: one answer per person, which they may change until the poll closes.
    db["poll_answers"].create(
        {"poll_id": str, "user_id": str, "text": str, "answered_at": str},
        pk=("poll_id", "user_id"),
        not_null={"text", "answered_at"},
    )
    db["polls"].add_column("closed_by", str)


@migrations()
def m006_scheduled_meetings(db: sqlite_utils.Database) -> None:
    # Meetings scheduled from Slack (on providers that can), their channel message and reminders.
    db["scheduled_meetings"].create(
        {
            "id": str,  # "<provider>:<the provider's meeting id>"
            "provider": str,
            "meeting_id": str,
            "team_id": str,
            "channel_id": str,
            "room_id": str,  # the meeting's own room (a row of rooms)
            "title": str,
            "starts_at": str,  # the first meeting, ISO 8601 with its offset
            "ends_at": str,
            "timezone": str,  # IANA zone the meeting repeats in
            "repeat": str,  # never | daily | weekdays | weekly | monthly
            "created_by": str,
            "message_ts": str,
            "status": str,  # scheduled | cancelled
            "reminded_for": str,  # the start of the last occurrence reminded
            "created_at": str,
        },
        pk="id",
        not_null={"provider", "meeting_id", "team_id", "channel_id", "room_id", "title", "starts_at", "ends_at",
                  "timezone", "repeat", "created_by", "status", "created_at"},
        defaults={"status": "scheduled"},
    )
    db["scheduled_meetings"].create_index(["team_id", "channel_id"])


@migrations()
def m007_room_intents_and_summary_parts(db: sqlite_utils.Database) -> None:
    # A room someone asked for, written before the provider is called: a crash between the provider
    # creating it and meetops remembering it leaves this row, and the next start finishes or undoes it.
    # `creating` -> (room inserted) `created` (its message still owed) -> row deleted once posted/reported.
    db["room_intents"].create(
        {
            "id": int,
            "team_id": str,
            "channel_id": str,
            "user_id": str,  # who asked: told if it failed
            "name": str,
            "slug": str,  # the link name being created right now (suffixed on collisions)
            "description": str,
            "private": int,
            "standing": int,  # the channel's standing room (plain /meet)
            "provider": str,
            "options": str,  # JSON list of the provider's own flags
            "state": str,  # creating | unsure (the provider did not answer) | created
            "room_id": str,  # once created
            "attempts": int,  # tries to post the room message
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"team_id", "channel_id", "user_id", "name", "slug", "provider", "state", "created_at",
                  "updated_at"},
        defaults={"private": 0, "standing": 0, "attempts": 0},
    )
    db["room_intents"].create_index(["state"])
    # The parts of a long summary already in the thread ({"0": ts, ...}), so a retry posts only the rest.
    db["summaries"].add_column("parts", str)


@migrations()
def m008_recording_state(db: sqlite_utils.Database) -> None:
    # Whether meetops is recording a room's meeting (started from Slack): idle | starting | on | stopping.
    db["recording_state"].create(
        {"room_id": str, "state": str, "started_by": str, "started_at": str},
        pk="room_id",
        not_null={"state"},
        defaults={"state": "idle"},
    )


@migrations()
def m009_lean_room_writes(db: sqlite_utils.Database) -> None:
    # Every `/meet new` settles its intent by room (`delete … where room_id = ?`): without this index that
    # scanned every intent in the `created` state, which a burst of commands fills.
    db["room_intents"].create_index(["room_id"])
    # Rooms are found by their case-folded keys since m004; these two indexes only made every room insert
    # write two more b-trees.
    db.execute('drop index if exists "idx_rooms_team_id_friendly_url"')
    db.execute('drop index if exists "idx_rooms_team_id_name"')


@migrations()
def m010_posted_message_settles_its_intent(db: sqlite_utils.Database) -> None:
    # A room whose message is up owes none, whichever path posted it: recording where the message is
    # settles the intent in the same statement. `/meet new` wrote the two in a transaction of its own,
    # four statements per room message; in a burst of commands each statement on the event loop hands the
    # GIL away and waits to get it back (benchmarks/ack_latency.py).
    db.execute("""
        create trigger if not exists room_message_settles_intent
        after update of message_ts on rooms when new.message_ts is not null
        begin
            delete from room_intents where room_id = new.id and state = 'created';
        end
    """)


@migrations()
def m011_digest_in_flight(db: sqlite_utils.Database) -> None:
    # The period of a digest being posted, and its first message's ts once Slack answered: a digest the
    # process died posting is found at the next run instead of being posted twice.
    db["digests"].add_column("posting_until", str)
    db["digests"].add_column("posting_ts", str)
