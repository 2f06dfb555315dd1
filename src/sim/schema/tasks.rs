//! Task (engagement, `0-27`) property definitions.
//! HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/crm/activities/tasks/guide>

use super::builder::{prop, system, PropertyDef};
use crate::sim::gen::words;
use crate::sim::kind::ObjectType;

pub fn table() -> Vec<PropertyDef> {
    let info = "task";
    let mut table = vec![
        prop("hs_task_subject", "Task Title", info).words(words::TASK_SUBJECTS),
        prop("hs_task_body", "Notes", info)
            .words(words::SENTENCES)
            .textarea()
            .pct(70),
        prop("hs_timestamp", "Due date", info).datetime(),
        prop("hubspot_owner_id", "Assigned to", info),
        prop("hs_task_status", "Task Status", info).values(&[
            "NOT_STARTED",
            "IN_PROGRESS",
            "WAITING",
            "COMPLETED",
            "DEFERRED",
        ]),
        prop("hs_task_priority", "Priority", info).values(&["NONE", "LOW", "MEDIUM", "HIGH"]),
        prop("hs_task_type", "Task Type", info).values(&["EMAIL", "CALL", "TODO"]),
        prop("hs_task_reminders", "Reminder", info).pct(30),
        prop("hs_task_completion_date", "Completed at", info)
            .datetime()
            .read_only(),
        prop("hs_task_is_overdue", "Is Overdue", info)
            .boolean()
            .calc(),
        prop("hs_task_is_completed", "Is Completed", info)
            .number(0, 0)
            .calc(),
        prop("hs_task_for_object_type", "Associated object type", info).read_only(),
        prop("hs_queue_membership_ids", "Queue", info).pct(5),
        prop("hs_task_sequence_step_order", "Sequence step order", info)
            .number(1, 6)
            .read_only()
            .pct(10),
        prop("hs_task_repeat_interval", "Repeat interval", info)
            .words(&["P1W", "P1M"])
            .pct(5),
        prop(
            "hs_task_send_default_reminder",
            "Send default reminder",
            info,
        )
        .boolean()
        .pct(40),
        prop("hs_engagement_source", "Source", info)
            .values(&["CRM_UI", "API", "IMPORT", "AUTOMATION"])
            .read_only(),
        prop("hs_body_preview", "Body preview", info)
            .read_only()
            .pct(0),
        prop("hs_at_mentioned_owner_ids", "At-mentioned owner ids", info)
            .read_only()
            .pct(0),
        prop("hs_created_by", "Created by", info)
            .number(0, 0)
            .read_only()
            .pct(0),
    ];
    table.extend(system(ObjectType::Tasks, info));
    table
}
