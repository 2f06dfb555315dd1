//! Reference data, user mappings and connections on both backends: one sequence of
//! operations, every read compared.

use super::tests::leading_database;
use super::{Connections, Reference};
use crate::object::ObjectType::{Companies, Contacts};
use crate::store::{MappingSource, Owner, Pipeline, PropertyDef, Stage, Store, Team, UserMapping};

const PORTAL: i64 = 62515;
const OTHER: i64 = 62516;

fn owner(id: i64, email: &str) -> Owner {
    Owner {
        id,
        user_id: Some(id * 10),
        email: email.into(),
        first_name: "First".into(),
        teams: vec![Team {
            id: "t1".into(),
            name: "Sales".into(),
            primary: true,
        }],
        updated_at_ms: 1_000 + id,
        ..Owner::default()
    }
}

fn pipeline(id: &str) -> Pipeline {
    Pipeline {
        id: id.into(),
        label: format!("Pipeline {id}"),
        stages: vec![Stage {
            id: format!("{id}-won"),
            label: "Won".into(),
            metadata: [("isClosed".to_owned(), "true".to_owned())].into(),
            ..Stage::default()
        }],
        ..Pipeline::default()
    }
}

fn property(name: &str) -> PropertyDef {
    PropertyDef {
        name: name.into(),
        value_type: "enumeration".into(),
        options: vec![("a".into(), "A".into())],
        ..PropertyDef::default()
    }
}

fn mapping(email: &str, owner_id: Option<i64>) -> UserMapping {
    UserMapping {
        email: email.into(),
        owner_id,
        source: MappingSource::Manual,
    }
}

fn observe_sled(store: &Store) -> String {
    let (reference, ownership, connections) =
        (store.reference(), store.ownership(), store.connections());
    format!(
        "owners {:?}\nowner 2 {:?}\npipelines {:?}\ncontacts {:?}\ncompanies {:?}\n\
         mappings {:?}\nann {:?}\nconnections {:?}\nservice {:?}\n",
        reference.owners(PORTAL).unwrap(),
        reference.owner(PORTAL, 2).unwrap(),
        reference.pipelines(PORTAL).unwrap(),
        reference.properties(PORTAL, Contacts).unwrap(),
        reference.properties(PORTAL, Companies).unwrap(),
        (
            ownership.mappings(PORTAL).unwrap(),
            ownership.mappings(OTHER).unwrap()
        ),
        ownership.mapping(PORTAL, "ann@x.io").unwrap(),
        connections.list("user/").unwrap(),
        connections.get("service").unwrap(),
    )
}

async fn observe_postgres(reference: &Reference, connections: &Connections) -> String {
    format!(
        "owners {:?}\nowner 2 {:?}\npipelines {:?}\ncontacts {:?}\ncompanies {:?}\n\
         mappings {:?}\nann {:?}\nconnections {:?}\nservice {:?}\n",
        reference.owners(PORTAL).await.unwrap(),
        reference.owner(PORTAL, 2).await.unwrap(),
        reference.pipelines(PORTAL).await.unwrap(),
        reference.properties(PORTAL, Contacts).await.unwrap(),
        reference.properties(PORTAL, Companies).await.unwrap(),
        (
            reference.mappings(PORTAL).await.unwrap(),
            reference.mappings(OTHER).await.unwrap(),
        ),
        reference.mapping(PORTAL, "ann@x.io").await.unwrap(),
        connections.list("user/").await.unwrap(),
        connections.get("service").await.unwrap(),
    )
}

#[tokio::test]
async fn sled_and_postgres_keep_reference_data_mappings_and_connections_alike() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (database, fence) = leading_database().await;
    let reference = Reference::new(database.clone());
    let connections = Connections::new(database);
    let compare = async |step: &str| {
        let (left, right) = (
            observe_sled(&store),
            observe_postgres(&reference, &connections).await,
        );
        assert_eq!(left, right, "the backends differ after {step}");
        right
    };

    let owners = [owner(3, "c@x.io"), owner(1, "a@x.io"), owner(2, "b@x.io")];
    store.reference().replace_owners(PORTAL, &owners).unwrap();
    reference
        .replace_owners(fence, PORTAL, &owners)
        .await
        .unwrap();
    // Names in byte order ("2" < "Z-team" < "default"), as sled's keys sort.
    let pipelines = [pipeline("default"), pipeline("Z-team"), pipeline("2")];
    store
        .reference()
        .replace_pipelines(PORTAL, &pipelines)
        .unwrap();
    reference
        .replace_pipelines(fence, PORTAL, &pipelines)
        .await
        .unwrap();
    let properties = [
        property("lifecyclestage"),
        property("Email"),
        property("email"),
    ];
    store
        .reference()
        .replace_properties(PORTAL, Contacts, &properties)
        .unwrap();
    reference
        .replace_properties(fence, PORTAL, Contacts, &properties)
        .await
        .unwrap();
    for email in ["ann@x.io", "Bob@x.io", "bob@x.io"] {
        store
            .ownership()
            .set_mapping(PORTAL, &mapping(email, Some(1)))
            .unwrap();
        reference
            .set_mapping(PORTAL, &mapping(email, Some(1)))
            .await
            .unwrap();
    }
    // Another portal's mapping of one of those emails is its own.
    store
        .ownership()
        .set_mapping(OTHER, &mapping("ann@x.io", Some(7)))
        .unwrap();
    reference
        .set_mapping(OTHER, &mapping("ann@x.io", Some(7)))
        .await
        .unwrap();
    for (name, value) in [
        ("service", "s1"),
        ("user/b", "u-b"),
        ("user/a", "u-a"),
        ("userx", "no"),
    ] {
        store.connections().put(name, value.as_bytes()).unwrap();
        connections.put(name, value.as_bytes()).await.unwrap();
    }
    let seen = compare("the first writes").await;
    assert!(seen.contains("owners [Owner { id: 1"), "{seen}");

    store
        .reference()
        .replace_owners(PORTAL, &owners[..1])
        .unwrap();
    reference
        .replace_owners(fence, PORTAL, &owners[..1])
        .await
        .unwrap();
    store.reference().replace_pipelines(PORTAL, &[]).unwrap();
    reference
        .replace_pipelines(fence, PORTAL, &[])
        .await
        .unwrap();
    store
        .ownership()
        .set_mapping(PORTAL, &mapping("ann@x.io", None))
        .unwrap();
    reference
        .set_mapping(PORTAL, &mapping("ann@x.io", None))
        .await
        .unwrap();
    assert!(store
        .ownership()
        .remove_mapping(PORTAL, "bob@x.io")
        .unwrap());
    assert!(reference.remove_mapping(PORTAL, "bob@x.io").await.unwrap());
    assert!(!reference.remove_mapping(PORTAL, "bob@x.io").await.unwrap());
    assert!(!reference.remove_mapping(OTHER, "Bob@x.io").await.unwrap());
    let taken = store.connections().take("user/a").unwrap();
    assert_eq!(taken, connections.take("user/a").await.unwrap());
    assert_eq!(
        connections.take("user/a").await.unwrap(),
        None,
        "taken once"
    );
    let seen = compare("replacing and removing").await;
    assert!(seen.contains("owner 2 None\npipelines []\n"), "{seen}");

    // Moving a portal's mappings to another (a switch of portals): what the target has
    // already stays.
    assert_eq!(
        store
            .ownership()
            .move_mappings(Some(PORTAL), OTHER)
            .unwrap(),
        2
    );
    assert_eq!(
        reference.move_mappings(Some(PORTAL), OTHER).await.unwrap(),
        2
    );
    let seen = compare("moving mappings").await;
    assert!(seen.contains("ann@x.io\", owner_id: Some(7)"), "{seen}");
    assert!(seen.contains("ann None"), "{seen}");
}
