//! Keyset pagination, newest first: opaque cursors over `(created_at, id)`, the `limit`,
//! `after`, `before` parameters, and the page shape of DESIGN §5.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDateTime;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;

/// Default page size.
pub const DEFAULT_LIMIT: i64 = 20;
/// Largest page size.
pub const MAX_LIMIT: i64 = 100;
/// Lists count their matching items up to this many; when more match, `total_count` says
/// this many. Counting is then bounded work whatever the list's length, as GitLab bounds its
/// counts.
pub const COUNT_CAP: i64 = 10_000;

/// A position in a list: the sort key of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The item's creation time.
    pub created_at: NaiveDateTime,
    /// The item's id (tie-breaker).
    pub id: String,
}

impl Cursor {
    /// The cursor of an item created at `created_at` with id `id`.
    #[must_use]
    pub fn at(created_at: NaiveDateTime, id: &str) -> Self {
        Self {
            created_at,
            id: id.to_owned(),
        }
    }

    /// The opaque form handed to clients.
    #[must_use]
    pub fn encode(&self) -> String {
        let micros = self.created_at.and_utc().timestamp_micros();
        URL_SAFE_NO_PAD.encode(format!("{micros}:{}", self.id))
    }

    /// Reads a cursor a client sent back; anything else is 400.
    pub fn decode(field: &str, text: &str) -> Result<Self, ApiError> {
        let bad = || ApiError::BadRequest(format!("`{field}` is not a cursor from this API"));
        let raw = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let (micros, id) = raw.split_once(':').ok_or_else(bad)?;
        let micros: i64 = micros.parse().map_err(|_| bad())?;
        let created_at = chrono::DateTime::from_timestamp_micros(micros)
            .ok_or_else(bad)?
            .naive_utc();
        if id.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            created_at,
            id: id.to_owned(),
        })
    }
}

/// `limit`, `after`, `before` as a list's query string sent them.
#[derive(Debug, Default, Clone, Copy)]
pub struct PageQuery<'a> {
    /// Page size, 1–100 (default 20).
    pub limit: Option<i64>,
    /// Items after (older than) this cursor.
    pub after: Option<&'a str>,
    /// Items before (newer than) this cursor.
    pub before: Option<&'a str>,
}

/// Which way to read from a cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Direction {
    /// From the newest.
    First,
    /// Older than the cursor.
    After(Cursor),
    /// Newer than the cursor.
    Before(Cursor),
}

/// A validated page request.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// Page size.
    pub limit: i64,
    /// Where to start.
    pub direction: Direction,
}

impl PageQuery<'_> {
    /// Validates the parameters: a bad `limit` is 422, a bad cursor 400; an empty cursor is
    /// none (as a form field sent without a value).
    pub fn validate(self) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::field("limit", "must be between 1 and 100"));
        }
        let after = self.after.filter(|c| !c.is_empty());
        let before = self.before.filter(|c| !c.is_empty());
        let direction = match (after, before) {
            (Some(_), Some(_)) => {
                return Err(ApiError::field(
                    "before",
                    "give `after` or `before`, not both",
                ));
            }
            (Some(after), None) => Direction::After(Cursor::decode("after", after)?),
            (None, Some(before)) => Direction::Before(Cursor::decode("before", before)?),
            (None, None) => Direction::First,
        };
        Ok(PageRequest { limit, direction })
    }
}

/// Cursor metadata of a page.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "has_next_page": true,
    "has_previous_page": false,
    "start_cursor": "MTc5NjE0NjY2NTM2NDk0NDowMWEyMzJhZi0xMGYxLTc0ODctOTRkYS1iYjMxMGQ2NGNjODA",
    "end_cursor": "MTc5NDU1OTI3OTAwMjUxODowMWExZDQxMS03ZjlhLTdjM2EtOGU1MS1kMjdmNGI5YTZjMDM"
}))]
pub struct PageInfo {
    /// Whether older items follow this page: pass `end_cursor` as `after` to read them.
    #[schema(example = true)]
    pub has_next_page: bool,
    /// Whether newer items precede this page: pass `start_cursor` as `before` to read them.
    #[schema(example = false)]
    pub has_previous_page: bool,
    /// The opaque cursor of the page's first (newest) item, to pass as `before`; `null` when
    /// the page is empty.
    #[schema(example = "MTc5NjE0NjY2NTM2NDk0NDowMWEyMzJhZi0xMGYxLTc0ODctOTRkYS1iYjMxMGQ2NGNjODA")]
    pub start_cursor: Option<String>,
    /// The opaque cursor of the page's last (oldest) item, to pass as `after`; `null` when the
    /// page is empty.
    #[schema(example = "MTc5NDU1OTI3OTAwMjUxODowMWExZDQxMS03ZjlhLTdjM2EtOGU1MS1kMjdmNGI5YTZjMDM")]
    pub end_cursor: Option<String>,
}

/// A page: items newest first, cursors, and the number of items matching the filters.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items of this page, newest first, at most `limit` of them; empty when nothing (more)
    /// matches.
    #[schema(example = json!([]))]
    pub items: Vec<T>,
    /// Whether there are pages before and after this one, and the cursors to read them.
    pub page_info: PageInfo,
    /// How many items match the filters in all, across every page, counted up to 10,000: a
    /// list of more says 10,000.
    #[schema(example = 57, maximum = 10_000)]
    pub total_count: i64,
}

/// A filtered list that can be read by keyset, newest first.
pub trait Keyset {
    /// What the list holds.
    type Item;
    /// The sort key of an item.
    fn key(item: &Self::Item) -> Cursor;
    /// Up to `n` items in newest-first order; for `Before`, the `n` items just newer than the
    /// cursor.
    fn fetch(&mut self, direction: &Direction, n: i64) -> Result<Vec<Self::Item>, ApiError>;
    /// Whether any item lies in `direction`.
    fn exists(&mut self, direction: &Direction) -> Result<bool, ApiError>;
    /// How many items match in all.
    fn count(&mut self) -> Result<i64, ApiError>;
}

/// Reads one page of `list`.
pub fn read<L: Keyset>(list: &mut L, request: &PageRequest) -> Result<Page<L::Item>, ApiError> {
    let page = read_uncounted(list, request)?;
    let total_count = match page.total_count {
        Some(known) => known,
        None => list.count()?,
    };
    Ok(Page {
        items: page.items,
        page_info: page.page_info,
        total_count,
    })
}

/// A page whose count may still be missing: [`read_uncounted`] leaves it to the caller, who
/// may count on another connection while it does the rest of the page.
#[derive(Debug)]
pub struct Uncounted<T> {
    /// The page's items.
    pub items: Vec<T>,
    /// Whether there are pages around it, and their cursors.
    pub page_info: PageInfo,
    /// The count, when the page itself tells it (it holds the whole list); `None` when the
    /// list still has to be counted ([`Keyset::count`]).
    pub total_count: Option<i64>,
}

/// Reads one page of `list` like [`read`], but leaves counting the list to the caller when the
/// page does not tell the count.
pub fn read_uncounted<L: Keyset>(
    list: &mut L,
    request: &PageRequest,
) -> Result<Uncounted<L::Item>, ApiError> {
    let mut items = list.fetch(&request.direction, request.limit + 1)?;
    let overflow = usize::try_from(request.limit).is_ok_and(|limit| items.len() > limit);
    let (has_next_page, has_previous_page) = match &request.direction {
        Direction::First => {
            if overflow {
                items.pop();
            }
            (overflow, false)
        }
        Direction::After(cursor) => {
            if overflow {
                items.pop();
            }
            (overflow, list.exists(&Direction::Before(cursor.clone()))?)
        }
        Direction::Before(cursor) => {
            if overflow {
                items.remove(0);
            }
            (list.exists(&Direction::After(cursor.clone()))?, overflow)
        }
    };
    // A first page with nothing after it holds the whole list: its length is the count, and
    // the counting statements (up to two walks of the list) are not needed. That is the first
    // page of most lists, and of every filter that matches a few items. (A page read from a
    // cursor is not the whole list even with nothing around it: the cursor's item is outside.)
    let whole = matches!(request.direction, Direction::First) && !has_next_page;
    let total_count = i64::try_from(items.len()).ok().filter(|_| whole);
    Ok(Uncounted {
        page_info: PageInfo {
            has_next_page,
            has_previous_page,
            start_cursor: items.first().map(|item| L::key(item).encode()),
            end_cursor: items.last().map(|item| L::key(item).encode()),
        },
        items,
        total_count,
    })
}

/// Merges the pages read from several sources (each newest first, at most `n` beyond the
/// cursor) into one: the `n` newest for `First` and `After`, the `n` just newer than the cursor
/// for `Before`, newest first.
pub fn merge_newest_first<T, K: Ord>(
    mut items: Vec<T>,
    direction: &Direction,
    n: i64,
    key: impl Fn(&T) -> K,
) -> Vec<T> {
    items.sort_by_key(|item| std::cmp::Reverse(key(item)));
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if matches!(direction, Direction::Before(_)) {
        let excess = items.len().saturating_sub(n);
        items.drain(..excess);
    } else {
        items.truncate(n);
    }
    items
}

/// Filters a boxed query to the rows beyond `direction`'s cursor on its `(created_at, id)`
/// columns: older for `After`, newer for `Before`. The plain bound on `created_at` lets an
/// index on `(…, created_at, id)` start at the cursor instead of walking from the end.
macro_rules! beyond {
    ($query:expr, $direction:expr, $created_at:path, $id:path) => {
        match $direction {
            $crate::pagination::Direction::First => $query,
            $crate::pagination::Direction::After(c) => $query.filter(
                $created_at
                    .le(c.created_at)
                    .and($created_at.lt(c.created_at).or($id.lt(c.id.clone()))),
            ),
            $crate::pagination::Direction::Before(c) => $query.filter(
                $created_at
                    .ge(c.created_at)
                    .and($created_at.gt(c.created_at).or($id.gt(c.id.clone()))),
            ),
        }
    };
}

/// Loads a (filtered, limited) query in page order, newest first. For `Before` the rows just
/// newer than the cursor are read oldest first, then turned around.
macro_rules! load_newest_first {
    ($query:expr, $direction:expr, $created_at:path, $id:path, $conn:expr) => {
        if matches!($direction, $crate::pagination::Direction::Before(_)) {
            $query
                .order(($created_at.asc(), $id.asc()))
                .load($conn)
                .map(|mut rows: Vec<_>| {
                    rows.reverse();
                    rows
                })
        } else {
            $query.order(($created_at.desc(), $id.desc())).load($conn)
        }
    };
}

/// Counts the items of a boxed query up to [`COUNT_CAP`]: a first query skips
/// that many along an index, and only a shorter list is counted. Both read no column, so an
/// index holding just the filter's columns (on PostgreSQL, the small count indexes) can answer
/// them without reading rows.
macro_rules! capped_count {
    ($query:expr, $conn:expr) => {{
        let over: Vec<i32> = $query
            .select(diesel::dsl::sql::<diesel::sql_types::Integer>("1"))
            .offset($crate::pagination::COUNT_CAP)
            .limit(1)
            .load($conn)?;
        if over.is_empty() {
            $query.count().get_result::<i64>($conn)?
        } else {
            $crate::pagination::COUNT_CAP
        }
    }};
}

pub(crate) use {beyond, capped_count, load_newest_first};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_rejected() {
        let cursor = Cursor {
            created_at: chrono::DateTime::from_timestamp_micros(1_795_393_194_554_635)
                .map(|d| d.naive_utc())
                .unwrap_or_default(),
            id: "01a205c6-0a3a".into(),
        };
        assert_eq!(Cursor::decode("after", &cursor.encode()).ok(), Some(cursor));
        for bad in ["", "!!!", "bm90LWEtY3Vyc29y", "MTIzOg"] {
            assert!(
                matches!(Cursor::decode("after", bad), Err(ApiError::BadRequest(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_empty_cursor_is_none() -> Result<(), ApiError> {
        let query = PageQuery {
            before: Some(""),
            ..PageQuery::default()
        };
        assert_eq!(query.validate()?.direction, Direction::First);
        Ok(())
    }

    #[test]
    fn limits_are_checked() {
        for limit in [0, 101, -1] {
            let query = PageQuery {
                limit: Some(limit),
                ..PageQuery::default()
            };
            assert!(matches!(query.validate(), Err(ApiError::Validation(_))));
        }
        assert_eq!(
            PageQuery::default().validate().map(|r| r.limit).ok(),
            Some(20)
        );
    }

    /// A list in memory, newest first, that counts how often it was counted.
    struct InMemory {
        items: Vec<Cursor>,
        counted: usize,
    }

    impl InMemory {
        fn of(n: i64) -> Self {
            let items = (0..n)
                .rev()
                .map(|i| Cursor {
                    created_at: chrono::DateTime::from_timestamp(1_800_000_000 + i, 0)
                        .map(|d| d.naive_utc())
                        .unwrap_or_default(),
                    id: format!("{i:03}"),
                })
                .collect();
            Self { items, counted: 0 }
        }

        fn beyond(&self, direction: &Direction) -> Vec<Cursor> {
            let key = |c: &Cursor| (c.created_at, c.id.clone());
            self.items
                .iter()
                .filter(|item| match direction {
                    Direction::First => true,
                    Direction::After(c) => key(item) < key(c),
                    Direction::Before(c) => key(item) > key(c),
                })
                .cloned()
                .collect()
        }
    }

    impl Keyset for InMemory {
        type Item = Cursor;

        fn key(item: &Cursor) -> Cursor {
            item.clone()
        }

        fn fetch(&mut self, direction: &Direction, n: i64) -> Result<Vec<Cursor>, ApiError> {
            let beyond = self.beyond(direction);
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            Ok(if matches!(direction, Direction::Before(_)) {
                beyond[beyond.len().saturating_sub(n)..].to_vec()
            } else {
                beyond.into_iter().take(n).collect()
            })
        }

        fn exists(&mut self, direction: &Direction) -> Result<bool, ApiError> {
            Ok(!self.beyond(direction).is_empty())
        }

        fn count(&mut self) -> Result<i64, ApiError> {
            self.counted += 1;
            i64::try_from(self.items.len()).map_err(|_| ApiError::BadRequest("too many".into()))
        }
    }

    fn request(limit: i64, direction: Direction) -> PageRequest {
        PageRequest { limit, direction }
    }

    #[test]
    fn a_page_that_holds_the_whole_list_is_its_count() -> Result<(), ApiError> {
        for n in [0, 1, 7, 20] {
            let mut list = InMemory::of(n);
            let page = read(&mut list, &request(20, Direction::First))?;
            assert_eq!(i64::try_from(page.items.len()).ok(), Some(n));
            assert_eq!(page.total_count, n);
            assert_eq!(list.counted, 0, "{n} items in a page of 20 need no count");
        }
        // Read back from the last of the list with `before`: nothing lies around the page, but
        // the cursor's own item is not in it.
        let mut list = InMemory::of(7);
        let oldest = list.items[6].clone();
        let page = read(&mut list, &request(20, Direction::Before(oldest)))?;
        assert_eq!(page.total_count, 7);
        assert_eq!(page.items.len(), 6);
        assert_eq!(list.counted, 1, "a page from a cursor is counted");
        Ok(())
    }

    #[test]
    fn a_page_with_more_around_it_counts_the_list() -> Result<(), ApiError> {
        let mut list = InMemory::of(21);
        let first = read(&mut list, &request(20, Direction::First))?;
        assert_eq!((first.total_count, first.items.len()), (21, 20));
        assert!(first.page_info.has_next_page);
        let after = Cursor::decode("after", first.page_info.end_cursor.as_deref().unwrap_or(""))?;
        let second = read(&mut list, &request(20, Direction::After(after)))?;
        assert_eq!((second.total_count, second.items.len()), (21, 1));
        assert!(second.page_info.has_previous_page && !second.page_info.has_next_page);
        assert_eq!(list.counted, 2);
        Ok(())
    }
}
