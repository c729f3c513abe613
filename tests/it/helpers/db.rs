//! Databases created per test on the real PostgreSQL and MariaDB servers, dropped when the
//! handle drops (also when the test panics).

use sqlx::{AssertSqlSafe, Connection, Executor};

use super::unique_name;

/// Runs `;\n`-separated statements on a SQLite database (`?mode=rwc` in the URL creates it).
pub async fn sqlite_exec(url: &str, script: &str) {
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    for s in script.split(";\n").filter(|s| !s.trim().is_empty()) {
        conn.execute(AssertSqlSafe(s.to_string())).await.unwrap();
    }
}

pub fn pg_server() -> String {
    std::env::var("HCC_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// The test PostgreSQL server's address (see `server_addr`).
pub fn pg_addr() -> std::net::SocketAddr {
    server_addr(Server::Postgres)
}

pub fn mysql_server() -> String {
    std::env::var("HCC_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

/// A test server's address, from its URL (scripts/test-deps.sh may have started a private
/// cluster on another port), for a proxy to stand in front of it.
pub fn server_addr(server: Server) -> std::net::SocketAddr {
    let url = match server {
        Server::Postgres => pg_server(),
        Server::MySql => mysql_server(),
    };
    let host_port = url.rsplit('@').next().unwrap_or(&url);
    let host_port = host_port.split('/').next().unwrap_or(host_port);
    host_port
        .parse()
        .unwrap_or_else(|e| panic!("the test server URL {url} has no IP:port: {e}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Postgres,
    MySql,
}

/// A database of its own on one of the servers.
pub struct TestDb {
    pub server: Server,
    pub name: String,
}

impl TestDb {
    pub async fn create(server: Server) -> TestDb {
        let options = match server {
            Server::Postgres => "",
            Server::MySql => "CHARACTER SET utf8mb4",
        };
        TestDb::create_with(server, options).await
    }

    /// A database created with `options` after its name, e.g. a PostgreSQL encoding.
    pub async fn create_with(server: Server, options: &str) -> TestDb {
        let name = unique_name("hcc_t");
        let admin = admin_url(server);
        let mut conn = connect_any(server, &admin).await;
        execute(&mut conn, &format!("CREATE DATABASE {name} {options}")).await;
        TestDb { server, name }
    }

    pub fn url(&self) -> String {
        match self.server {
            Server::Postgres => format!("{}/{}", pg_server(), self.name),
            Server::MySql => format!("{}/{}", mysql_server(), self.name),
        }
    }

    /// Runs statements (separated by `;` at line ends) in the database, in a session on
    /// Vietnam time, as the centre's own applications write.
    pub async fn exec(&self, script: &str) {
        let mut conn = connect_any(self.server, &self.url()).await;
        let zone = match self.server {
            Server::Postgres => "SET TIME ZONE 'Asia/Ho_Chi_Minh'",
            Server::MySql => "SET time_zone = '+07:00'",
        };
        execute(&mut conn, zone).await;
        for statement in script.split(";\n").filter(|s| !s.trim().is_empty()) {
            execute(&mut conn, statement).await;
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (server, name) = (self.server, self.name.clone());
        // Drop runs outside async: a thread with its own runtime does the cleanup.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let mut conn = connect_any(server, &admin_url(server)).await;
                let sql = match server {
                    Server::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                    Server::MySql => format!("DROP DATABASE IF EXISTS {name}"),
                };
                execute(&mut conn, &sql).await;
            });
        })
        .join();
    }
}

fn admin_url(server: Server) -> String {
    match server {
        Server::Postgres => format!("{}/postgres", pg_server()),
        Server::MySql => mysql_server(),
    }
}

async fn connect_any(server: Server, url: &str) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test {server:?} server at {url}: {e}"))
}

async fn execute(conn: &mut sqlx::AnyConnection, sql: &str) {
    conn.execute(AssertSqlSafe(sql.to_string()))
        .await
        .unwrap_or_else(|e| panic!("test SQL failed: {sql}: {e}"));
}
