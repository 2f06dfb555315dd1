//! Owners (`/crm/v3/owners`): active and archived, paged with `after`.

use super::client::{Call, Client};
use super::error::Error;
use super::model::{Owner, Page};
use super::paging::ListCursor;
use super::wire::{WireOwner, WirePage};

const OWNERS_LIMIT: usize = 100;

impl Client {
    /// One page of owners; `archived = true` lists only deactivated owners.
    pub async fn owners_page(
        &self,
        archived: bool,
        cursor: &ListCursor,
    ) -> Result<Page<Owner, ListCursor>, Error> {
        let mut call = Call::get("/crm/v3/owners", "list owners")
            .query("limit", OWNERS_LIMIT.to_string())
            .query("archived", archived.to_string());
        if let Some(after) = &cursor.after {
            call = call.query("after", after.clone());
        }
        let page: WirePage<WireOwner> = self.json(&call).await?;
        let next = page
            .next_after()
            .map(|after| ListCursor { after: Some(after) });
        let mut items: Vec<Owner> = page.results.into_iter().map(Owner::from).collect();
        if archived {
            // Some responses omit the flag on archived owners; the query says what they are.
            items.iter_mut().for_each(|o| o.archived = true);
        }
        Ok(Page { items, next })
    }

    /// Every owner, active then archived (records can still point at archived owners).
    pub async fn all_owners(&self) -> Result<Vec<Owner>, Error> {
        let mut owners = Vec::new();
        for archived in [false, true] {
            let mut cursor = ListCursor::default();
            loop {
                let page = self.owners_page(archived, &cursor).await?;
                owners.extend(page.items);
                match page.next {
                    Some(next) => cursor = next,
                    None => break,
                }
            }
        }
        Ok(owners)
    }
}
