import { Link } from "wouter";
import { api } from "../api.js";
import { Breadcrumbs, Loading, useData } from "../util.jsx";

export function ProjectsPage() {
  const state = useData(() => api.projects(), []);
  return (
    <section>
      <h1>Projects</h1>
      <Loading state={state}>
        {(data) => (
          <ul className="cards">
            {(data.projects || []).map((p) => (
              <li key={p.id} className="card">
                <h2>
                  <Link href={`/projects/${p.id}`}>{p.name || p.id}</Link>
                </h2>
                {p.description && <p>{p.description}</p>}
                <p className="domains">
                  {(p.domains || []).map((d) => (
                    <Link key={d.id} href={`/projects/${p.id}/domains/${d.id}`} className="pill">
                      {d.name || d.id}
                    </Link>
                  ))}
                </p>
              </li>
            ))}
          </ul>
        )}
      </Loading>
    </section>
  );
}

export function ProjectPage({ project }) {
  const state = useData(() => api.projects(), [project]);
  return (
    <section>
      <Breadcrumbs items={[["Projects", "/"], [project]]} />
      <h1>Project {project}</h1>
      <Loading state={state}>
        {(data) => {
          const found = (data.projects || []).find((p) => p.id === project);
          if (!found) return <p role="alert">No project {project}.</p>;
          return (
            <>
              {found.description && <p>{found.description}</p>}
              <h2>Domains</h2>
              <ul className="cards">
                {(found.domains || []).map((d) => (
                  <li key={d.id} className="card">
                    <Link href={`/projects/${project}/domains/${d.id}`}>{d.name || d.id}</Link>
                  </li>
                ))}
              </ul>
            </>
          );
        }}
      </Loading>
    </section>
  );
}
