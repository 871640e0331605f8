//! `duty post|unit|place|person|category …`: the directory.
//!
//! Arguments named after a field (`--name`, `--contact`) are that field.
#![allow(missing_docs)]

use clap::Subcommand;
use dutyroom_proto::v1 as pb;

use crate::cli::output::{self, table};
use crate::cli::{CliError, Ctx};

fn place_kind(text: &str) -> Result<pb::PlaceKind, String> {
    Ok(match text {
        "district" => pb::PlaceKind::District,
        "subdistrict" | "sub-district" => pb::PlaceKind::Subdistrict,
        "community" => pb::PlaceKind::Community,
        "grid" => pb::PlaceKind::Grid,
        _ => {
            return Err(format!(
                "{text:?}: kind is district, subdistrict, community or grid"
            ));
        }
    })
}

fn post_mode(text: &str) -> Result<pb::PostMode, String> {
    Ok(match text {
        "normal" => pb::PostMode::Normal,
        "emergency" => pb::PostMode::Emergency,
        _ => return Err(format!("{text:?}: mode is normal or emergency")),
    })
}

fn list_of(values: Vec<String>, clear: bool) -> Option<pb::StringList> {
    if clear {
        Some(pb::StringList::default())
    } else if values.is_empty() {
        None
    } else {
        Some(pb::StringList { values })
    }
}

fn yes(flag: bool) -> String {
    if flag {
        "retired".into()
    } else {
        String::new()
    }
}

/// `duty post …`
#[derive(Debug, Subcommand)]
pub enum PostCmd {
    /// Creates a post.
    Create {
        /// Stable id, e.g. xinhua.
        id: String,
        /// Display name, e.g. 新华街道指挥部.
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        district: String,
        /// Person id of the responsible leader (包保领导).
        #[arg(long, default_value = "")]
        leader: String,
        #[arg(long, default_value = "")]
        contact: String,
    },
    /// Changes a post.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        district: Option<String>,
        /// Person id ("" clears it).
        #[arg(long)]
        leader: Option<String>,
        #[arg(long)]
        contact: Option<String>,
    },
    /// Shows a post.
    Get { id: String },
    /// Lists posts.
    List {
        /// Include retired ones.
        #[arg(long)]
        all: bool,
    },
    /// Retires a post (or brings it back with --restore).
    Retire {
        id: String,
        #[arg(long)]
        restore: bool,
    },
    /// Switches a post to emergency mode or back (平急转换).
    Mode {
        id: String,
        /// normal or emergency.
        #[arg(value_parser = post_mode)]
        mode: pb::PostMode,
        /// Why (required, recorded).
        #[arg(long, short)]
        reason: String,
    },
}

/// `duty unit …`
#[derive(Debug, Subcommand)]
pub enum UnitCmd {
    /// Creates a linkage unit.
    Create {
        id: String,
        #[arg(long)]
        name: String,
        /// 1 core responders, 2 public services, 3 others.
        #[arg(long)]
        tier: u32,
        /// Category codes it handles (repeatable).
        #[arg(long = "category")]
        categories: Vec<String>,
        #[arg(long, default_value = "")]
        contact: String,
    },
    /// Changes a unit.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        tier: Option<u32>,
        /// Replace the categories (repeatable).
        #[arg(long = "category")]
        categories: Vec<String>,
        /// Remove every category.
        #[arg(long)]
        clear_categories: bool,
        #[arg(long)]
        contact: Option<String>,
    },
    /// Shows a unit.
    Get { id: String },
    /// Lists units.
    List {
        #[arg(long)]
        all: bool,
    },
    /// Retires a unit (or brings it back with --restore).
    Retire {
        id: String,
        #[arg(long)]
        restore: bool,
    },
}

/// `duty place …`
#[derive(Debug, Subcommand)]
pub enum PlaceCmd {
    /// Creates a place.
    Create {
        id: String,
        #[arg(long)]
        name: String,
        /// district, subdistrict, community or grid.
        #[arg(long, value_parser = place_kind)]
        kind: pb::PlaceKind,
        /// The place one level up (not for a district).
        #[arg(long, default_value = "")]
        parent: String,
        /// A sub-district's command post.
        #[arg(long, default_value = "")]
        post: String,
    },
    /// Changes a place.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        post: Option<String>,
    },
    /// Shows a place.
    Get { id: String },
    /// Lists places.
    List {
        #[arg(long)]
        all: bool,
    },
    /// Retires a place (or brings it back with --restore).
    Retire {
        id: String,
        #[arg(long)]
        restore: bool,
    },
}

/// `duty person …`
#[derive(Debug, Subcommand)]
pub enum PersonCmd {
    /// Creates a person.
    Create {
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        phone: String,
        /// Where alarm text messages go, if not --phone.
        #[arg(long, default_value = "")]
        sms_phone: String,
        /// Where alarm voice calls go, if not --phone.
        #[arg(long, default_value = "")]
        voice_phone: String,
        /// Their own webhook for alarms (https://…), for levels that send
        /// "webhook".
        #[arg(long, default_value = "")]
        webhook: String,
        /// Labels such as duty_officer (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// Changes a person.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        /// Where alarm text messages go ("" for --phone).
        #[arg(long)]
        sms_phone: Option<String>,
        /// Where alarm voice calls go ("" for --phone).
        #[arg(long)]
        voice_phone: Option<String>,
        /// Their own webhook for alarms ("" clears it).
        #[arg(long)]
        webhook: Option<String>,
        /// Replace the labels (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
        #[arg(long)]
        clear_roles: bool,
    },
    /// Shows a person.
    Get { id: String },
    /// Lists people.
    List {
        #[arg(long)]
        all: bool,
    },
    /// Retires a person (or brings them back with --restore).
    Retire {
        id: String,
        #[arg(long)]
        restore: bool,
    },
}

/// `duty category …`
#[derive(Debug, Subcommand)]
pub enum CategoryCmd {
    /// Creates a category.
    Create {
        code: String,
        #[arg(long)]
        name_zh: String,
        #[arg(long, default_value = "")]
        name_en: String,
        /// Units suggested on dispatch (repeatable).
        #[arg(long = "unit")]
        units: Vec<String>,
    },
    /// Changes a category.
    Update {
        code: String,
        #[arg(long)]
        name_zh: Option<String>,
        #[arg(long)]
        name_en: Option<String>,
        /// Replace the default units (repeatable).
        #[arg(long = "unit")]
        units: Vec<String>,
        #[arg(long)]
        clear_units: bool,
    },
    /// Shows a category.
    Get { code: String },
    /// Lists categories.
    List {
        #[arg(long)]
        all: bool,
    },
    /// Retires a category (or brings it back with --restore).
    Retire {
        code: String,
        #[arg(long)]
        restore: bool,
    },
}

fn retire(rid: String, id: String, restore: bool) -> pb::RetireRequest {
    pb::RetireRequest {
        request_id: rid,
        id,
        restore,
    }
}

fn mode_word(mode: i32) -> &'static str {
    if mode == pb::PostMode::Emergency as i32 {
        "EMERGENCY"
    } else {
        "normal"
    }
}

fn print_posts(ctx: &mut Ctx<'_>, posts: Vec<pb::Post>) -> Result<(), CliError> {
    if ctx.json() {
        return output::json(
            ctx.out,
            &pb::ListPostsReply { posts },
            "ListPostsReply",
            true,
        );
    }
    let rows = posts
        .into_iter()
        .map(|p| {
            vec![
                p.id,
                p.name,
                p.district,
                mode_word(p.mode).into(),
                p.responsible_leader_id,
                p.contact,
                yes(p.retired),
            ]
        })
        .collect();
    table(
        ctx.out,
        &["ID", "NAME", "DISTRICT", "MODE", "LEADER", "CONTACT", ""],
        rows,
    )
}

/// Runs a post command.
pub async fn run_post(ctx: &mut Ctx<'_>, cmd: PostCmd) -> Result<(), CliError> {
    let rid = ctx.request_id.clone();
    let mut posts = ctx.client.posts();
    let post = match cmd {
        PostCmd::Create {
            id,
            name,
            district,
            leader,
            contact,
        } => {
            posts
                .create_post(pb::CreatePostRequest {
                    request_id: rid,
                    post: Some(pb::Post {
                        id,
                        name,
                        district,
                        responsible_leader_id: leader,
                        contact,
                        ..Default::default()
                    }),
                })
                .await?
        }
        PostCmd::Update {
            id,
            name,
            district,
            leader,
            contact,
        } => {
            posts
                .update_post(pb::UpdatePostRequest {
                    request_id: rid,
                    id,
                    name,
                    district,
                    responsible_leader_id: leader,
                    contact,
                })
                .await?
        }
        PostCmd::Get { id } => posts.get_post(pb::GetRequest { id }).await?,
        PostCmd::List { all } => {
            let reply = posts
                .list_posts(pb::ListRequest {
                    include_retired: all,
                })
                .await?
                .into_inner();
            return print_posts(ctx, reply.posts);
        }
        PostCmd::Retire { id, restore } => posts.retire_post(retire(rid, id, restore)).await?,
        PostCmd::Mode { id, mode, reason } => {
            posts
                .set_post_mode(pb::SetPostModeRequest {
                    request_id: rid,
                    id,
                    mode: mode as i32,
                    reason,
                })
                .await?
        }
    };
    let post = post.into_inner();
    if ctx.json() {
        return output::json(ctx.out, &post, "Post", true);
    }
    print_posts(ctx, vec![post])
}

fn print_units(ctx: &mut Ctx<'_>, units: Vec<pb::Unit>) -> Result<(), CliError> {
    if ctx.json() {
        return output::json(
            ctx.out,
            &pb::ListUnitsReply { units },
            "ListUnitsReply",
            true,
        );
    }
    let rows = units
        .into_iter()
        .map(|u| {
            vec![
                u.id,
                u.name,
                u.tier.to_string(),
                u.categories.join(","),
                u.contact,
                yes(u.retired),
            ]
        })
        .collect();
    table(
        ctx.out,
        &["ID", "NAME", "TIER", "CATEGORIES", "CONTACT", ""],
        rows,
    )
}

/// Runs a unit command.
pub async fn run_unit(ctx: &mut Ctx<'_>, cmd: UnitCmd) -> Result<(), CliError> {
    let rid = ctx.request_id.clone();
    let mut units = ctx.client.units();
    let unit = match cmd {
        UnitCmd::Create {
            id,
            name,
            tier,
            categories,
            contact,
        } => {
            units
                .create_unit(pb::CreateUnitRequest {
                    request_id: rid,
                    unit: Some(pb::Unit {
                        id,
                        name,
                        tier,
                        categories,
                        contact,
                        ..Default::default()
                    }),
                })
                .await?
        }
        UnitCmd::Update {
            id,
            name,
            tier,
            categories,
            clear_categories,
            contact,
        } => {
            units
                .update_unit(pb::UpdateUnitRequest {
                    request_id: rid,
                    id,
                    name,
                    tier,
                    categories: list_of(categories, clear_categories),
                    contact,
                })
                .await?
        }
        UnitCmd::Get { id } => units.get_unit(pb::GetRequest { id }).await?,
        UnitCmd::List { all } => {
            let reply = units
                .list_units(pb::ListRequest {
                    include_retired: all,
                })
                .await?
                .into_inner();
            return print_units(ctx, reply.units);
        }
        UnitCmd::Retire { id, restore } => units.retire_unit(retire(rid, id, restore)).await?,
    };
    let unit = unit.into_inner();
    if ctx.json() {
        return output::json(ctx.out, &unit, "Unit", true);
    }
    print_units(ctx, vec![unit])
}

fn kind_word(kind: i32) -> &'static str {
    match pb::PlaceKind::try_from(kind) {
        Ok(pb::PlaceKind::District) => "district",
        Ok(pb::PlaceKind::Subdistrict) => "subdistrict",
        Ok(pb::PlaceKind::Community) => "community",
        Ok(pb::PlaceKind::Grid) => "grid",
        _ => "?",
    }
}

fn print_places(ctx: &mut Ctx<'_>, places: Vec<pb::Place>) -> Result<(), CliError> {
    if ctx.json() {
        return output::json(
            ctx.out,
            &pb::ListPlacesReply { places },
            "ListPlacesReply",
            true,
        );
    }
    let rows = places
        .into_iter()
        .map(|p| {
            vec![
                p.id,
                p.name,
                kind_word(p.kind).into(),
                p.parent_id,
                p.post_id,
                yes(p.retired),
            ]
        })
        .collect();
    table(ctx.out, &["ID", "NAME", "KIND", "PARENT", "POST", ""], rows)
}

/// Runs a place command.
pub async fn run_place(ctx: &mut Ctx<'_>, cmd: PlaceCmd) -> Result<(), CliError> {
    let rid = ctx.request_id.clone();
    let mut places = ctx.client.places();
    let place = match cmd {
        PlaceCmd::Create {
            id,
            name,
            kind,
            parent,
            post,
        } => {
            places
                .create_place(pb::CreatePlaceRequest {
                    request_id: rid,
                    place: Some(pb::Place {
                        id,
                        name,
                        kind: kind as i32,
                        parent_id: parent,
                        post_id: post,
                        ..Default::default()
                    }),
                })
                .await?
        }
        PlaceCmd::Update { id, name, post } => {
            places
                .update_place(pb::UpdatePlaceRequest {
                    request_id: rid,
                    id,
                    name,
                    post_id: post,
                })
                .await?
        }
        PlaceCmd::Get { id } => places.get_place(pb::GetRequest { id }).await?,
        PlaceCmd::List { all } => {
            let reply = places
                .list_places(pb::ListRequest {
                    include_retired: all,
                })
                .await?
                .into_inner();
            return print_places(ctx, reply.places);
        }
        PlaceCmd::Retire { id, restore } => places.retire_place(retire(rid, id, restore)).await?,
    };
    let place = place.into_inner();
    if ctx.json() {
        return output::json(ctx.out, &place, "Place", true);
    }
    print_places(ctx, vec![place])
}

fn print_people(ctx: &mut Ctx<'_>, people: Vec<pb::Person>) -> Result<(), CliError> {
    if ctx.json() {
        return output::json(
            ctx.out,
            &pb::ListPeopleReply { people },
            "ListPeopleReply",
            true,
        );
    }
    let rows = people
        .into_iter()
        .map(|p| {
            // Alarm numbers only where they differ from the phone.
            let mut alarms = Vec::new();
            if !p.sms_phone.is_empty() {
                alarms.push(format!("sms {}", p.sms_phone));
            }
            if !p.voice_phone.is_empty() {
                alarms.push(format!("voice {}", p.voice_phone));
            }
            if !p.webhook.is_empty() {
                alarms.push(format!("webhook {}", p.webhook));
            }
            vec![
                p.id,
                p.name,
                p.phone,
                alarms.join(", "),
                p.roles.join(","),
                yes(p.retired),
            ]
        })
        .collect();
    table(
        ctx.out,
        &["ID", "NAME", "PHONE", "ALARMS TO", "ROLES", ""],
        rows,
    )
}

/// Runs a person command.
pub async fn run_person(ctx: &mut Ctx<'_>, cmd: PersonCmd) -> Result<(), CliError> {
    let rid = ctx.request_id.clone();
    let mut people = ctx.client.people();
    let person = match cmd {
        PersonCmd::Create {
            id,
            name,
            phone,
            sms_phone,
            voice_phone,
            webhook,
            roles,
        } => {
            people
                .create_person(pb::CreatePersonRequest {
                    request_id: rid,
                    person: Some(pb::Person {
                        id,
                        name,
                        phone,
                        sms_phone,
                        voice_phone,
                        webhook,
                        roles,
                        ..Default::default()
                    }),
                })
                .await?
        }
        PersonCmd::Update {
            id,
            name,
            phone,
            sms_phone,
            voice_phone,
            webhook,
            roles,
            clear_roles,
        } => {
            people
                .update_person(pb::UpdatePersonRequest {
                    request_id: rid,
                    id,
                    name,
                    phone,
                    roles: list_of(roles, clear_roles),
                    sms_phone,
                    voice_phone,
                    webhook,
                })
                .await?
        }
        PersonCmd::Get { id } => people.get_person(pb::GetRequest { id }).await?,
        PersonCmd::List { all } => {
            let reply = people
                .list_people(pb::ListRequest {
                    include_retired: all,
                })
                .await?
                .into_inner();
            return print_people(ctx, reply.people);
        }
        PersonCmd::Retire { id, restore } => people.retire_person(retire(rid, id, restore)).await?,
    };
    let person = person.into_inner();
    if ctx.json() {
        return output::json(ctx.out, &person, "Person", true);
    }
    print_people(ctx, vec![person])
}

fn print_categories(ctx: &mut Ctx<'_>, categories: Vec<pb::Category>) -> Result<(), CliError> {
    if ctx.json() {
        let reply = pb::ListCategoriesReply { categories };
        return output::json(ctx.out, &reply, "ListCategoriesReply", true);
    }
    let rows = categories
        .into_iter()
        .map(|c| {
            vec![
                c.code,
                c.name_zh,
                c.name_en,
                c.default_unit_ids.join(","),
                yes(c.retired),
            ]
        })
        .collect();
    table(
        ctx.out,
        &["CODE", "名称", "NAME", "DEFAULT UNITS", ""],
        rows,
    )
}

/// Runs a category command.
pub async fn run_category(ctx: &mut Ctx<'_>, cmd: CategoryCmd) -> Result<(), CliError> {
    let rid = ctx.request_id.clone();
    let mut categories = ctx.client.categories();
    let category = match cmd {
        CategoryCmd::Create {
            code,
            name_zh,
            name_en,
            units,
        } => {
            categories
                .create_category(pb::CreateCategoryRequest {
                    request_id: rid,
                    category: Some(pb::Category {
                        code,
                        name_zh,
                        name_en,
                        default_unit_ids: units,
                        ..Default::default()
                    }),
                })
                .await?
        }
        CategoryCmd::Update {
            code,
            name_zh,
            name_en,
            units,
            clear_units,
        } => {
            categories
                .update_category(pb::UpdateCategoryRequest {
                    request_id: rid,
                    code,
                    name_zh,
                    name_en,
                    default_unit_ids: list_of(units, clear_units),
                })
                .await?
        }
        CategoryCmd::Get { code } => categories.get_category(pb::GetRequest { id: code }).await?,
        CategoryCmd::List { all } => {
            let reply = categories
                .list_categories(pb::ListRequest {
                    include_retired: all,
                })
                .await?
                .into_inner();
            return print_categories(ctx, reply.categories);
        }
        CategoryCmd::Retire { code, restore } => {
            categories
                .retire_category(retire(rid, code, restore))
                .await?
        }
    };
    let category = category.into_inner();
    if ctx.json() {
        return output::json(ctx.out, &category, "Category", true);
    }
    print_categories(ctx, vec![category])
}
