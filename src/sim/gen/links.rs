//! Base associations as pure functions of record indices, in both directions, so neither side
//! needs a stored table: contact j works at company j mod C (80 % of contacts), deal d belongs
//! to company d mod C and to that company's first contact, task t points at one record.

use super::mix;
use crate::sim::kind::ObjectType;

#[derive(Debug, Clone)]
pub struct Links {
    seed: u64,
    counts: [u64; 4],
}

impl Links {
    pub fn new(seed: u64, counts: [u64; 4]) -> Links {
        Links { seed, counts }
    }

    fn count(&self, kind: ObjectType) -> u64 {
        self.counts[kind.index()]
    }

    fn roll(&self, kind: ObjectType, index: u64, salt: u64) -> u64 {
        mix(self.seed ^ mix(((kind.index() as u64) << 56) ^ index ^ (salt << 40)))
    }

    pub fn company_of_contact(&self, contact: u64) -> Option<u64> {
        let companies = self.count(ObjectType::Companies);
        let employed = self.roll(ObjectType::Contacts, contact, 11) % 10 < 8;
        (companies > 0 && employed).then(|| contact % companies)
    }

    pub fn contacts_of_company(&self, company: u64) -> Vec<u64> {
        let companies = self.count(ObjectType::Companies).max(1);
        (company..self.count(ObjectType::Contacts))
            .step_by(companies as usize)
            .filter(|&contact| self.company_of_contact(contact) == Some(company))
            .collect()
    }

    pub fn company_of_deal(&self, deal: u64) -> Option<u64> {
        let companies = self.count(ObjectType::Companies);
        (companies > 0).then(|| deal % companies)
    }

    pub fn deals_of_company(&self, company: u64) -> Vec<u64> {
        let companies = self.count(ObjectType::Companies).max(1);
        (company..self.count(ObjectType::Deals))
            .step_by(companies as usize)
            .collect()
    }

    pub fn contact_of_deal(&self, deal: u64) -> Option<u64> {
        let company = self.company_of_deal(deal)?;
        self.contacts_of_company(company).first().copied()
    }

    pub fn deals_of_contact(&self, contact: u64) -> Vec<u64> {
        match self.company_of_contact(contact) {
            Some(company) if self.contacts_of_company(company).first() == Some(&contact) => {
                self.deals_of_company(company)
            }
            _ => Vec::new(),
        }
    }

    /// The one record a task is attached to.
    pub fn target_of_task(&self, task: u64) -> Option<(ObjectType, u64)> {
        let kind = match self.roll(ObjectType::Tasks, task, 12) % 3 {
            0 => ObjectType::Contacts,
            1 => ObjectType::Companies,
            _ => ObjectType::Deals,
        };
        let count = self.count(kind);
        (count > 0).then(|| (kind, task % count))
    }

    pub fn tasks_of(&self, kind: ObjectType, index: u64) -> Vec<u64> {
        let count = self.count(kind).max(1);
        (index..self.count(ObjectType::Tasks))
            .step_by(count as usize)
            .filter(|&task| self.target_of_task(task) == Some((kind, index)))
            .collect()
    }

    /// Base associations of one record to one other type, as indices of that type.
    pub fn of(&self, from: ObjectType, index: u64, to: ObjectType) -> Vec<u64> {
        use ObjectType::*;
        match (from, to) {
            (Contacts, Companies) => self.company_of_contact(index).into_iter().collect(),
            (Companies, Contacts) => self.contacts_of_company(index),
            (Deals, Companies) => self.company_of_deal(index).into_iter().collect(),
            (Companies, Deals) => self.deals_of_company(index),
            (Deals, Contacts) => self.contact_of_deal(index).into_iter().collect(),
            (Contacts, Deals) => self.deals_of_contact(index),
            (Tasks, other) => match self.target_of_task(index) {
                Some((kind, target)) if kind == other => vec![target],
                _ => Vec::new(),
            },
            (kind, Tasks) => self.tasks_of(kind, index),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ObjectType::*;

    #[test]
    fn every_association_has_its_reverse() {
        let links = Links::new(3, [500, 200, 100, 100]);
        for from in ObjectType::ALL {
            for to in ObjectType::ALL {
                for index in 0..links.count(from) {
                    for other in links.of(from, index, to) {
                        assert!(
                            links.of(to, other, from).contains(&index),
                            "{from:?} {index} -> {to:?} {other}"
                        );
                    }
                }
            }
        }
        assert!(
            !links.of(Contacts, 0, Companies).is_empty()
                || !links.of(Contacts, 1, Companies).is_empty()
        );
    }
}
