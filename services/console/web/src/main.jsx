import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { Link, Route, Router, Switch, useLocation } from "wouter";
import { LOGGED_OUT_ROUTE, api, basePath, loginUrl, logoutUrl } from "./api.js";
import { ProjectsPage, ProjectPage } from "./pages/projects.jsx";
import { DomainPage } from "./pages/domain.jsx";
import { EntityPage, EntityVersionPage } from "./pages/entity.jsx";
import { ExecutionPage } from "./pages/execution.jsx";
import { LaunchPage } from "./pages/launch.jsx";
import "./styles.css";

// flytekit prints singular kinds (workflow/task/launch_plan); the console's own links use the plural.
const KIND = { workflow: "workflow", workflows: "workflow", task: "task", tasks: "task", launch_plan: "launch_plan", launch_plans: "launch_plan" };

function App() {
  return (
    <Router base={basePath}>
      <header className="topbar">
        <Link href="/" className="brand">Aloft console</Link>
        <UserMenu />
      </header>
      <main id="main">
        <Switch>
          <Route path={LOGGED_OUT_ROUTE}>{() => <LoggedOut />}</Route>
          <Route path="/">{() => <ProjectsPage />}</Route>
          <Route path="/projects">{() => <ProjectsPage />}</Route>
          <Route path="/projects/:project">{(p) => <ProjectPage project={p.project} />}</Route>
          <Route path="/projects/:project/domains/:domain">{(p) => <DomainPage {...p} tab="executions" />}</Route>
          <Route path="/projects/:project/domains/:domain/executions">{(p) => <DomainPage {...p} tab="executions" />}</Route>
          <Route path="/projects/:project/domains/:domain/executions/:name">{(p) => <ExecutionPage {...p} />}</Route>
          <Route path="/projects/:project/domains/:domain/launch/:name/:version">{(p) => <LaunchPage {...p} />}</Route>
          <Route path="/projects/:project/domains/:domain/:kind/:name/version/:version">
            {(p) => (KIND[p.kind] ? <EntityVersionPage {...p} kind={KIND[p.kind]} /> : <NotFound />)}
          </Route>
          <Route path="/projects/:project/domains/:domain/:kind/:name">
            {(p) => (KIND[p.kind] ? <EntityPage {...p} kind={KIND[p.kind]} /> : <NotFound />)}
          </Route>
          <Route path="/projects/:project/domains/:domain/:tab">{(p) => <DomainPage {...p} />}</Route>
          <Route>{() => <NotFound />}</Route>
        </Switch>
      </main>
    </Router>
  );
}

// The logged-in user and the logout link when auth is on (admin's /me answers "anonymous" when it is off).
function UserMenu() {
  const [location] = useLocation();
  const [user, setUser] = useState(null);
  const loggedOut = location === LOGGED_OUT_ROUTE;
  useEffect(() => {
    if (loggedOut) return undefined;
    let live = true;
    api.me().then((me) => live && setUser(me), () => live && setUser(null));
    return () => {
      live = false;
    };
  }, [loggedOut]);
  if (loggedOut || !user || !user.subject || user.subject === "anonymous") return null;
  return (
    <nav className="user-menu" aria-label="User">
      <span className="user-name">{user.name || user.preferred_username || user.subject}</span>
      <a href={logoutUrl()}>Log out</a>
    </nav>
  );
}

function LoggedOut() {
  return (
    <section>
      <h1>Logged out</h1>
      <p>
        <a href={loginUrl(basePath + "/")}>Log in again</a>
      </p>
    </section>
  );
}

function NotFound() {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        No console page here. <Link href="/">Projects</Link>
      </p>
    </section>
  );
}

createRoot(document.getElementById("root")).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
