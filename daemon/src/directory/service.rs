//! The five directory services: posts, units, places, people, categories.
//! Writes go through the engine; reads come straight from the store. Any
//! authenticated caller may read the directory; only admins change it
//! (leaders also switch post modes).

use dutyroom_proto::v1 as pb;
use tonic::{Request, Response, Status};

use crate::auth::principal_of;
use crate::convert;
use crate::directory::model::{Category, Entry, EntryKind, Person, Place, PlaceKind, Post, Unit};
use crate::engine::Engine;
use crate::engine::command::{
    CategoryPatch, Command, Outcome, PersonPatch, PlacePatch, PostPatch, UnitPatch,
};
use crate::error::{Error, Result};
use crate::store::{Reader, Store};
use crate::validate::{self, MAX_NAME, MAX_PHONE, MAX_REASON};

type Reply<T> = std::result::Result<Response<T>, Status>;

/// Serves all five directory services over one engine.
#[derive(Clone)]
pub struct Directory {
    engine: Engine,
}

impl Directory {
    /// Serves the directory through `engine`.
    pub fn new(engine: Engine) -> Self {
        Directory { engine }
    }

    async fn run<T>(
        &self,
        request_id: &str,
        principal: crate::auth::principal::Principal,
        command: Command,
        pick: impl FnOnce(Outcome) -> Option<T>,
    ) -> Result<T> {
        let request_id = validate::request_id(request_id)?;
        let outcome = self.engine.submit(principal, request_id, command).await?;
        let described = format!("{outcome:?}");
        pick(outcome)
            .ok_or_else(|| Error::Storage(format!("a directory command answered with {described}")))
    }
}

/// One entry by id, or NOT_FOUND.
pub fn get_entry<T: Entry>(store: &Store, id: &str) -> Result<T> {
    validate::slug("id", id)?;
    store
        .entry::<T>(id)?
        .ok_or_else(|| Error::not_found(format!("{} {id:?}", T::KIND.noun())))
}

/// Every entry of a kind, by id; retired ones only when asked.
pub fn list_entries<T: Entry>(store: &Store, include_retired: bool) -> Result<Vec<T>> {
    Ok(store
        .entries::<T>()?
        .into_iter()
        .filter(|entry| include_retired || !entry.retired())
        .collect())
}

fn retire_in(kind: EntryKind, request: &pb::RetireRequest) -> Result<Command> {
    validate::slug("id", &request.id)?;
    Ok(Command::Retire {
        kind,
        id: request.id.clone(),
        restore: request.restore,
    })
}

fn trimmed(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned())
}

fn checked_name(field: &str, value: &Option<String>) -> Result<()> {
    match value {
        Some(v) => validate::required(field, v, MAX_NAME),
        None => Ok(()),
    }
}

/// Fills in each community's and grid's post from the sub-district above it.
fn with_inherited_posts(places: Vec<Place>, all: &[Place]) -> Vec<Place> {
    let find = |id: &str| all.iter().find(|p| p.id == id);
    places
        .into_iter()
        .map(|mut place| {
            let mut current = place.clone();
            for _ in 0..4 {
                if current.kind == PlaceKind::Subdistrict {
                    place.post_id = current.post_id.clone();
                    break;
                }
                match current.parent_id.as_deref().and_then(find) {
                    Some(parent) => current = parent.clone(),
                    None => break,
                }
            }
            place
        })
        .collect()
}

#[tonic::async_trait]
impl pb::post_service_server::PostService for Directory {
    async fn create_post(&self, request: Request<pb::CreatePostRequest>) -> Reply<pb::Post> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let post = convert::post_in(r.post)?;
        let post = self
            .run(
                &r.request_id,
                principal,
                Command::CreatePost(post),
                |o| match o {
                    Outcome::Post(p) => Some(p),
                    _ => None,
                },
            )
            .await?;
        Ok(Response::new(convert::post_out(&post)))
    }

    async fn update_post(&self, request: Request<pb::UpdatePostRequest>) -> Reply<pb::Post> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let patch = PostPatch {
            id: r.id.trim().to_owned(),
            name: trimmed(r.name),
            district: trimmed(r.district),
            responsible_leader_id: trimmed(r.responsible_leader_id)
                .map(|id| Some(id).filter(|id| !id.is_empty())),
            contact: trimmed(r.contact),
        };
        validate::slug("id", &patch.id)?;
        checked_name("name", &patch.name)?;
        let post = self
            .run(
                &r.request_id,
                principal,
                Command::UpdatePost(patch),
                |o| match o {
                    Outcome::Post(p) => Some(p),
                    _ => None,
                },
            )
            .await?;
        Ok(Response::new(convert::post_out(&post)))
    }

    async fn get_post(&self, request: Request<pb::GetRequest>) -> Reply<pb::Post> {
        principal_of(&request)?;
        let post: Post = get_entry(self.engine.store(), request.get_ref().id.trim())?;
        Ok(Response::new(convert::post_out(&post)))
    }

    async fn list_posts(&self, request: Request<pb::ListRequest>) -> Reply<pb::ListPostsReply> {
        principal_of(&request)?;
        let posts: Vec<Post> =
            list_entries(self.engine.store(), request.get_ref().include_retired)?;
        Ok(Response::new(pb::ListPostsReply {
            posts: posts.iter().map(convert::post_out).collect(),
        }))
    }

    async fn retire_post(&self, request: Request<pb::RetireRequest>) -> Reply<pb::Post> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let command = retire_in(EntryKind::Post, &r)?;
        let post = self
            .run(&r.request_id, principal, command, |o| match o {
                Outcome::Post(p) => Some(p),
                _ => None,
            })
            .await?;
        Ok(Response::new(convert::post_out(&post)))
    }

    async fn set_post_mode(&self, request: Request<pb::SetPostModeRequest>) -> Reply<pb::Post> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        validate::slug("id", &r.id)?;
        let mode = convert::post_mode_in("mode", r.mode)?;
        validate::required("reason", &r.reason, MAX_REASON)?;
        let command = Command::SetPostMode {
            id: r.id.clone(),
            mode,
            reason: r.reason.trim().to_owned(),
        };
        let post = self
            .run(&r.request_id, principal, command, |o| match o {
                Outcome::Post(p) => Some(p),
                _ => None,
            })
            .await?;
        Ok(Response::new(convert::post_out(&post)))
    }
}

#[tonic::async_trait]
impl pb::unit_service_server::UnitService for Directory {
    async fn create_unit(&self, request: Request<pb::CreateUnitRequest>) -> Reply<pb::Unit> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let unit = convert::unit_in(r.unit)?;
        let unit = self
            .run(
                &r.request_id,
                principal,
                Command::CreateUnit(unit),
                |o| match o {
                    Outcome::Unit(u) => Some(u),
                    _ => None,
                },
            )
            .await?;
        Ok(Response::new(convert::unit_out(&unit)))
    }

    async fn update_unit(&self, request: Request<pb::UpdateUnitRequest>) -> Reply<pb::Unit> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let patch = UnitPatch {
            id: r.id.trim().to_owned(),
            name: trimmed(r.name),
            tier: r.tier.map(|t| u8::try_from(t).unwrap_or(u8::MAX)),
            categories: r.categories.map(|c| validate::tidy_labels(&c.values)),
            contact: trimmed(r.contact),
        };
        validate::slug("id", &patch.id)?;
        checked_name("name", &patch.name)?;
        if let Some(contact) = &patch.contact {
            validate::max_len("contact", contact, MAX_PHONE)?;
        }
        let unit = self
            .run(
                &r.request_id,
                principal,
                Command::UpdateUnit(patch),
                |o| match o {
                    Outcome::Unit(u) => Some(u),
                    _ => None,
                },
            )
            .await?;
        Ok(Response::new(convert::unit_out(&unit)))
    }

    async fn get_unit(&self, request: Request<pb::GetRequest>) -> Reply<pb::Unit> {
        principal_of(&request)?;
        let unit: Unit = get_entry(self.engine.store(), request.get_ref().id.trim())?;
        Ok(Response::new(convert::unit_out(&unit)))
    }

    async fn list_units(&self, request: Request<pb::ListRequest>) -> Reply<pb::ListUnitsReply> {
        principal_of(&request)?;
        let units: Vec<Unit> =
            list_entries(self.engine.store(), request.get_ref().include_retired)?;
        Ok(Response::new(pb::ListUnitsReply {
            units: units.iter().map(convert::unit_out).collect(),
        }))
    }

    async fn retire_unit(&self, request: Request<pb::RetireRequest>) -> Reply<pb::Unit> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let command = retire_in(EntryKind::Unit, &r)?;
        let unit = self
            .run(&r.request_id, principal, command, |o| match o {
                Outcome::Unit(u) => Some(u),
                _ => None,
            })
            .await?;
        Ok(Response::new(convert::unit_out(&unit)))
    }
}

#[tonic::async_trait]
impl pb::place_service_server::PlaceService for Directory {
    async fn create_place(&self, request: Request<pb::CreatePlaceRequest>) -> Reply<pb::Place> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let place = convert::place_in(r.place)?;
        let place = self
            .run(
                &r.request_id,
                principal,
                Command::CreatePlace(place),
                |o| match o {
                    Outcome::Place(p) => Some(p),
                    _ => None,
                },
            )
            .await?;
        Ok(Response::new(convert::place_out(&place)))
    }

    async fn update_place(&self, request: Request<pb::UpdatePlaceRequest>) -> Reply<pb::Place> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let patch = PlacePatch {
            id: r.id.trim().to_owned(),
            name: trimmed(r.name),
            post_id: trimmed(r.post_id),
        };
        validate::slug("id", &patch.id)?;
        checked_name("name", &patch.name)?;
        if let Some(post) = &patch.post_id {
            validate::slug("post_id", post)?;
        }
        let place = self
            .run(
                &r.request_id,
                principal,
                Command::UpdatePlace(patch),
                |o| match o {
                    Outcome::Place(p) => Some(p),
                    _ => None,
                },
            )
            .await?;
        Ok(Response::new(convert::place_out(&place)))
    }

    async fn get_place(&self, request: Request<pb::GetRequest>) -> Reply<pb::Place> {
        principal_of(&request)?;
        let store = self.engine.store();
        let place: Place = get_entry(store, request.get_ref().id.trim())?;
        let all: Vec<Place> = list_entries(store, true)?;
        let place = with_inherited_posts(vec![place], &all)
            .pop()
            .ok_or_else(|| Error::Storage("place vanished".into()))?;
        Ok(Response::new(convert::place_out(&place)))
    }

    async fn list_places(&self, request: Request<pb::ListRequest>) -> Reply<pb::ListPlacesReply> {
        principal_of(&request)?;
        let store = self.engine.store();
        let all: Vec<Place> = list_entries(store, true)?;
        let include_retired = request.get_ref().include_retired;
        let wanted: Vec<Place> = all
            .iter()
            .filter(|p| include_retired || !p.retired)
            .cloned()
            .collect();
        Ok(Response::new(pb::ListPlacesReply {
            places: with_inherited_posts(wanted, &all)
                .iter()
                .map(convert::place_out)
                .collect(),
        }))
    }

    async fn retire_place(&self, request: Request<pb::RetireRequest>) -> Reply<pb::Place> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let command = retire_in(EntryKind::Place, &r)?;
        let place = self
            .run(&r.request_id, principal, command, |o| match o {
                Outcome::Place(p) => Some(p),
                _ => None,
            })
            .await?;
        Ok(Response::new(convert::place_out(&place)))
    }
}

#[tonic::async_trait]
impl pb::person_service_server::PersonService for Directory {
    async fn create_person(&self, request: Request<pb::CreatePersonRequest>) -> Reply<pb::Person> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let person = convert::person_in(r.person)?;
        let person = self
            .run(
                &r.request_id,
                principal,
                Command::CreatePerson(person),
                |o| match o {
                    Outcome::Person(p) => Some(p),
                    _ => None,
                },
            )
            .await?;
        Ok(Response::new(convert::person_out(&person)))
    }

    async fn update_person(&self, request: Request<pb::UpdatePersonRequest>) -> Reply<pb::Person> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let patch = PersonPatch {
            id: r.id.trim().to_owned(),
            name: trimmed(r.name),
            phone: trimmed(r.phone),
            roles: r.roles.map(|roles| validate::tidy_labels(&roles.values)),
            sms_phone: trimmed(r.sms_phone),
            voice_phone: trimmed(r.voice_phone),
            webhook: trimmed(r.webhook),
        };
        validate::slug("id", &patch.id)?;
        checked_name("name", &patch.name)?;
        let person = self
            .run(
                &r.request_id,
                principal,
                Command::UpdatePerson(patch),
                |o| match o {
                    Outcome::Person(p) => Some(p),
                    _ => None,
                },
            )
            .await?;
        Ok(Response::new(convert::person_out(&person)))
    }

    async fn get_person(&self, request: Request<pb::GetRequest>) -> Reply<pb::Person> {
        principal_of(&request)?;
        let person: Person = get_entry(self.engine.store(), request.get_ref().id.trim())?;
        Ok(Response::new(convert::person_out(&person)))
    }

    async fn list_people(&self, request: Request<pb::ListRequest>) -> Reply<pb::ListPeopleReply> {
        principal_of(&request)?;
        let people: Vec<Person> =
            list_entries(self.engine.store(), request.get_ref().include_retired)?;
        Ok(Response::new(pb::ListPeopleReply {
            people: people.iter().map(convert::person_out).collect(),
        }))
    }

    async fn retire_person(&self, request: Request<pb::RetireRequest>) -> Reply<pb::Person> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let command = retire_in(EntryKind::Person, &r)?;
        let person = self
            .run(&r.request_id, principal, command, |o| match o {
                Outcome::Person(p) => Some(p),
                _ => None,
            })
            .await?;
        Ok(Response::new(convert::person_out(&person)))
    }
}

#[tonic::async_trait]
impl pb::category_service_server::CategoryService for Directory {
    async fn create_category(
        &self,
        request: Request<pb::CreateCategoryRequest>,
    ) -> Reply<pb::Category> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let category = convert::category_in(r.category)?;
        let category = self
            .run(
                &r.request_id,
                principal,
                Command::CreateCategory(category),
                |o| match o {
                    Outcome::Category(c) => Some(c),
                    _ => None,
                },
            )
            .await?;
        Ok(Response::new(convert::category_out(&category)))
    }

    async fn update_category(
        &self,
        request: Request<pb::UpdateCategoryRequest>,
    ) -> Reply<pb::Category> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let patch = CategoryPatch {
            code: r.code.trim().to_owned(),
            name_zh: trimmed(r.name_zh),
            name_en: trimmed(r.name_en),
            default_unit_ids: r
                .default_unit_ids
                .map(|ids| validate::tidy_labels(&ids.values)),
        };
        validate::slug("code", &patch.code)?;
        checked_name("name_zh", &patch.name_zh)?;
        let category = self
            .run(
                &r.request_id,
                principal,
                Command::UpdateCategory(patch),
                |o| match o {
                    Outcome::Category(c) => Some(c),
                    _ => None,
                },
            )
            .await?;
        Ok(Response::new(convert::category_out(&category)))
    }

    async fn get_category(&self, request: Request<pb::GetRequest>) -> Reply<pb::Category> {
        principal_of(&request)?;
        let category: Category = get_entry(self.engine.store(), request.get_ref().id.trim())?;
        Ok(Response::new(convert::category_out(&category)))
    }

    async fn list_categories(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Reply<pb::ListCategoriesReply> {
        principal_of(&request)?;
        let categories: Vec<Category> =
            list_entries(self.engine.store(), request.get_ref().include_retired)?;
        Ok(Response::new(pb::ListCategoriesReply {
            categories: categories.iter().map(convert::category_out).collect(),
        }))
    }

    async fn retire_category(&self, request: Request<pb::RetireRequest>) -> Reply<pb::Category> {
        let principal = principal_of(&request)?;
        let r = request.into_inner();
        let command = retire_in(EntryKind::Category, &r)?;
        let category = self
            .run(&r.request_id, principal, command, |o| match o {
                Outcome::Category(c) => Some(c),
                _ => None,
            })
            .await?;
        Ok(Response::new(convert::category_out(&category)))
    }
}
